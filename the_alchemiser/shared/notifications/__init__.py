"""Email notifications: the message, the sender port and its SNS adapter."""

from the_alchemiser.shared.notifications.email import (
    SNS_MESSAGE_LIMIT_BYTES,
    SNS_SUBJECT_LIMIT,
    EmailMessage,
    EmailSender,
    RecordingEmailSender,
    SnsEmailSender,
)

__all__ = [
    "SNS_MESSAGE_LIMIT_BYTES",
    "SNS_SUBJECT_LIMIT",
    "EmailMessage",
    "EmailSender",
    "RecordingEmailSender",
    "SnsEmailSender",
]
