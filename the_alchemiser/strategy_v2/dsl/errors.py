"""The DSL's exceptions: every failure the engine reports is one of these (or a market-data error)."""

from __future__ import annotations


class DslError(Exception):
    """Any strategy-file or strategy-evaluation failure."""


class DslParseError(DslError):
    """The text is not well-formed; carries the position ("file:line:col: message")."""

    def __init__(self, message: str, line: int, column: int, file: str | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.file = file
        super().__init__(f"{file or '<text>'}:{line}:{column}: {message}")


class DslValidationError(DslError):
    """Well-formed text that is not a valid strategy (unknown operator, bad window, bad weights...)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None, file: str | None = None):
        self.message = message
        self.line = line
        self.column = column
        self.file = file
        self.errors: list[DslValidationError] = [self]  # every error the validation found, this one first
        self.warnings: tuple[str, ...] = ()  # what the validation warned of before it failed
        where = f"{file or '<text>'}:{line}:{column}: " if line is not None else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class DslEvaluationError(DslError):
    """The strategy cannot be evaluated on the day asked (too-short history, undecidable `if`...)."""
