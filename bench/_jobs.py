"""Running gamelake's spark-submit jobs from the benchmarks, the way users run them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from gamelake.spark import submit_command, submit_env


def run_job(settings, job: str, args: list[str], log_file: Path) -> float:
    """Seconds of jobs/<job>.py run to completion, its output appended to `log_file`; exits
    naming the log when the job fails."""
    cmd = submit_command(settings, job, args)
    print(f"{job} {' '.join(args[:1])} running; its log: {log_file}", flush=True)
    started = time.perf_counter()
    with open(log_file, "ab") as out:
        done = subprocess.run(cmd, env=submit_env(dict(os.environ)), stdout=out, stderr=out)
    if done.returncode != 0:
        raise SystemExit(f"{job} {' '.join(args)} failed; see {log_file}")
    return round(time.perf_counter() - started, 1)
