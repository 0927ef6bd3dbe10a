"""Running gamelake's spark-submit jobs from the benchmarks, the way users run them."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from pathlib import Path

from gamelake.progress import BATCH_LINE
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


def logged_batches(log: str, queries: tuple[str, ...] = ()) -> list[dict]:
    """The micro-batches that read rows, per the job's log: query, batch id, rows and ms;
    only those of `queries` when given."""
    return [
        {"query": m.group(1), "batch": int(m.group(2)), "rows": int(m.group(3)),
         "ms": int(m.group(4))}
        for m in BATCH_LINE.finditer(log)
        if int(m.group(3)) and (not queries or m.group(1) in queries)
    ]  # fmt: skip


# The silver handler's per-batch line (gamelake.streams): where a batch's time went.
_SILVER_PHASES = re.compile(
    r"silver batch (\d+): .*?\(read\+dedup (\d+), parse\+row rules (\d+), "
    r"batch rules\+quarantine (\d+), \d+ writes (\d+)\)"
)
_PHASE_NAMES = ("read_dedup_ms", "parse_row_rules_ms", "batch_rules_quarantine_ms", "writes_ms")


def silver_phases(log: str) -> dict[int, dict[str, int]]:
    """Per silver batch id in a job's log: milliseconds of each phase of the handler."""
    return {
        int(m.group(1)): dict(zip(_PHASE_NAMES, map(int, m.group(2, 3, 4, 5)), strict=True))
        for m in _SILVER_PHASES.finditer(log)
    }


def batch_digest(log: str) -> dict[str, dict]:
    """Per query of a job's log: how many batches read rows, their rows, and ms (total,
    median, max)."""
    by_query: dict[str, list[dict]] = {}
    for b in logged_batches(log):
        by_query.setdefault(b["query"], []).append(b)
    return {
        query: {
            "batches": len(bs),
            "rows": sum(b["rows"] for b in bs),
            "ms_total": sum(b["ms"] for b in bs),
            "ms_median": round(statistics.median(b["ms"] for b in bs)),
            "ms_max": max(b["ms"] for b in bs),
        }
        for query, bs in sorted(by_query.items())
    }
