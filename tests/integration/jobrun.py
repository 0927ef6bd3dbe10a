"""Running gamelake jobs from tests the way users run them: spark-submit, to completion."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from gamelake.spark import submit_env


def run_to_end(cmd: list[str], log: Path, timeout_s: int = 900) -> None:
    """Run a job to completion, its output appended to `log`; fail the test with its tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        done = subprocess.run(
            cmd, env=submit_env(dict(os.environ)), stdout=out, stderr=out, timeout=timeout_s
        )
    assert done.returncode == 0, log.read_text(errors="replace")[-4000:]
