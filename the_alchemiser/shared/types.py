"""Decimal-safe value types shared by every model: money and weights travel as strings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer


def to_decimal(value: object) -> Decimal:
    """Coerce a wire value to a finite Decimal; floats go through repr so 0.1 stays 0.1."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, float):
            result = Decimal(repr(value))
        elif isinstance(value, (int, str)):
            result = Decimal(value)
        else:
            raise ValueError(f"not a decimal: {value!r}")
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return result


Money = Annotated[Decimal, BeforeValidator(to_decimal), PlainSerializer(str, return_type=str)]
"""A finite Decimal that serialises as a JSON string (Alpaca's convention for money and quantities).

Used for weights and quantities too: anything that must survive a JSON round trip exactly."""
