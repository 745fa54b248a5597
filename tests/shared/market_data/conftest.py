from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.market_data.datalake import Datalake


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time: a command run in-process binds logging to pytest's
    captured stream, which is closed after its test; later tests' log lines must not hit it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@pytest.fixture(autouse=True)
def _logging_outlives_captured_streams() -> Iterator[None]:
    yield
    configure_logging("INFO", stream=_CurrentStderr())  # type: ignore[arg-type]


@pytest.fixture
def s3_client() -> Iterator[Any]:
    with mock_aws():  # the local broker on 127.0.0.1 is reached over real HTTP, untouched by moto
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"market-data-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def datalake(s3_client: Any, bucket: str) -> Datalake:
    return Datalake(s3_client, bucket)
