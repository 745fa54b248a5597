"""Where the daily reports live (S3 in AWS: the CSV and the HTML page) and how a reader gets one: a
time-limited link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

import boto3
from botocore.config import Config

REPORT_LINK_LIFETIME = timedelta(days=7)  # S3 SigV4's maximum
SIGV4_MAX_LIFETIME = timedelta(days=7)


def signs_with_temporary_credentials(session: Any | None = None) -> bool:
    """Whether boto3's credentials are temporary (a Lambda role's are): links signed with them end
    with the session, whatever their X-Amz-Expires says."""
    credentials = (session or boto3.session.Session()).get_credentials()
    return credentials is not None and bool(credentials.token)


def s3_client_for_links(**kwargs: Any) -> Any:
    """An S3 client that presigns with SigV4 (required for links valid up to 7 days, in every region)."""
    return boto3.client("s3", config=Config(signature_version="s3v4"), **kwargs)


class ReportStore(Protocol):
    def put_csv(self, key: str, body: bytes) -> None: ...

    def put_html(self, key: str, body: bytes) -> None:
        """A page the link opens in the browser (not a download)."""
        ...

    def link(self, key: str, expires_in: timedelta) -> str:
        """A URL that downloads the object without AWS credentials, valid for `expires_in`."""
        ...

    def location(self, key: str) -> str:
        """Where the object lives (s3://bucket/key): still there when the link has expired."""
        ...

    @property
    def links_may_expire_early(self) -> bool:
        """True when links are signed with temporary credentials: they stop working when those expire."""
        ...


class S3ReportStore:
    """PERFORMANCE_REPORTS_BUCKET. The link is a presigned GET (SigV4: build the client with
    `s3_client_for_links()`, boto3's default in us-east-1 is the legacy SigV2 query string).
    A link signed with a Lambda role's temporary credentials stops working when that session
    ends, whatever `expires_in` says."""

    def __init__(self, s3_client: Any, bucket: str, *, temporary_credentials: bool = False) -> None:
        self._s3 = s3_client
        self._bucket = bucket
        self._temporary_credentials = temporary_credentials

    @property
    def links_may_expire_early(self) -> bool:
        return self._temporary_credentials

    def location(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def put_csv(self, key: str, body: bytes) -> None:
        self._put(key, body, "text/csv; charset=utf-8", "attachment")

    def put_html(self, key: str, body: bytes) -> None:
        self._put(key, body, "text/html; charset=utf-8", "inline")

    def _put(self, key: str, body: bytes, content_type: str, disposition: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            ContentDisposition=f'{disposition}; filename="{key.rsplit("/", 1)[-1]}"',
            ServerSideEncryption="AES256",
        )

    def link(self, key: str, expires_in: timedelta) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": self._bucket, "Key": key},
            ExpiresIn=int(min(expires_in, SIGV4_MAX_LIFETIME).total_seconds()),
        )
        return url
