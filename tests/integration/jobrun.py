"""Running gamelake jobs from tests the way users run them: spark-submit, to completion, or
in the background to be watched through its log and killed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from gamelake.spark import submit_env


def run_to_end(cmd: list[str], log: Path, timeout_s: int = 900, master: str | None = None) -> None:
    """Run a job to completion, its output appended to `log`; fail the test with its tail.
    `master`: the profile's Spark master (a loopback one gets Spark's loopback address)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        done = subprocess.run(
            cmd, env=submit_env(dict(os.environ), master), stdout=out, stderr=out,
            timeout=timeout_s,
        )  # fmt: skip
    assert done.returncode == 0, log.read_text(errors="replace")[-4000:]


def start(cmd: list[str], log: Path, master: str | None = None) -> subprocess.Popen:
    """A job started in its own session, its output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=submit_env(dict(os.environ), master), stdout=out,
                                stderr=out, start_new_session=True)  # fmt: skip


def wait_for_log(log: Path, text: str, proc: subprocess.Popen, timeout_s: float,
                 after: int = 0) -> bool:  # fmt: skip
    """True once `text` appears in the log past byte `after`; False if the job ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace")[after:]:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} in {log} after {timeout_s:.0f}s")


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the job and everything in its session; waits for it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
