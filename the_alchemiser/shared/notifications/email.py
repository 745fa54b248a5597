"""An email as SNS delivers it to subscribers: a one-line subject and a plain-text body.

SNS limits: the subject is under 100 characters with no line breaks (kept ASCII); the message is at
most 256 KB (UTF-8).
`EmailMessage` enforces both, so an adapter never sees a message SNS would refuse."""

from __future__ import annotations

import unicodedata
from typing import Any, Protocol

from pydantic import Field, field_validator

from the_alchemiser.shared.schemas.base import WireModel

SNS_SUBJECT_LIMIT = 99
SNS_MESSAGE_LIMIT_BYTES = 256 * 1024
_TRUNCATION_NOTE = "\n\n[message truncated to fit the SNS size limit; the CSV report has the full detail]\n"


_ASCII_STAND_INS = {"—": "-", "–": "-", "…": "...", "‘": "'", "’": "'", "“": '"', "”": '"', "·": "-"}


def _ascii(text: str) -> str:
    """Older SNS documentation requires an ASCII subject (and some receivers rewrite other
    characters): dashes, quotes and ellipses get ASCII stand-ins, accents are dropped, the rest is ?."""
    out = []
    for original in text:
        ch = _ASCII_STAND_INS.get(original, original)
        if not ch.isascii():
            ch = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() or "?"
        out.append(ch)
    return "".join(out)


def fit_subject(subject: str) -> str:
    """One ASCII line, no control characters, under SNS's 100 characters ("..." when cut)."""
    flat = " ".join(_ascii("".join(ch if ch.isprintable() else " " for ch in subject)).split())
    if len(flat) <= SNS_SUBJECT_LIMIT:
        return flat
    return flat[: SNS_SUBJECT_LIMIT - 3].rstrip() + "..."


def fit_body(body: str) -> str:
    """At most SNS's 256 KB, cut on a character boundary with a note saying so."""
    encoded = body.encode()
    if len(encoded) <= SNS_MESSAGE_LIMIT_BYTES:
        return body
    room = SNS_MESSAGE_LIMIT_BYTES - len(_TRUNCATION_NOTE.encode())
    return encoded[:room].decode(errors="ignore") + _TRUNCATION_NOTE


class EmailMessage(WireModel):
    subject: str = Field(min_length=1)
    body: str = Field(min_length=1)
    attributes: dict[str, str] = Field(
        default_factory=dict, description="SNS message attributes (string values), e.g. status and mode for filters"
    )

    @field_validator("subject")
    @classmethod
    def _fit_subject(cls, value: str) -> str:
        return fit_subject(value)

    @field_validator("body")
    @classmethod
    def _fit_body(cls, value: str) -> str:
        return fit_body(value)


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Deliver the message; return the transport's message id."""
        ...


class SnsEmailSender:
    """Publishes to one SNS topic whose email subscribers receive the plain-text body."""

    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self._topic_arn = topic_arn

    def send(self, message: EmailMessage) -> str:
        response = self._sns.publish(
            TopicArn=self._topic_arn,
            Subject=message.subject,
            Message=message.body,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in message.attributes.items()
                if value
            },
        )
        message_id: str = response["MessageId"]
        return message_id


class RecordingEmailSender:
    """Keeps what it was asked to send, in order: for the local stack and service tests."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> str:
        self.sent.append(message)
        return f"recorded-{len(self.sent)}"
