"""`InMemoryReportStore`: the notifications' ReportStore in a dict with stable fake links, for the golden
and unit tests (test-only code, out of the production module)."""

from __future__ import annotations

from datetime import timedelta


class InMemoryReportStore:
    """Reports in a dict with stable fake links: for the golden and unit tests."""

    def __init__(
        self,
        base_url: str = "https://reports.example.invalid",
        *,
        bucket: str = "alchemiser-dev-performance-reports",
        temporary_credentials: bool = False,
    ) -> None:
        self.objects: dict[str, bytes] = {}
        self._base_url = base_url.rstrip("/")
        self._bucket = bucket  # named like the S3 bucket it stands in for
        self._temporary_credentials = temporary_credentials

    @property
    def links_may_expire_early(self) -> bool:
        return self._temporary_credentials

    def location(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    def put_csv(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def put_html(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def link(self, key: str, expires_in: timedelta) -> str:
        if key not in self.objects:
            raise KeyError(key)
        return f"{self._base_url}/{key}?expires_in={int(expires_in.total_seconds())}"
