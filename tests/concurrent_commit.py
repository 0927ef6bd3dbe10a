"""A Delta write held inside its transaction while another commit lands first: how the tests
make a real conflict happen at a known moment instead of hoping for a race."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

WAIT_S = 120


def held_from_run(latch: Path, first: int = 1):
    """A UDF returning its input that, from its `first`-th run on (a single-row frame runs it
    once per job), marks `latch/started` and waits for `latch/go`: the job evaluating it (a
    write, after its transaction has read the table) waits until the test lets it go."""
    from pyspark.sql.functions import udf

    @udf("string", useArrow=False)  # row by row: one run per row of a one-row frame
    def held(value):
        with open(latch / "runs", "a") as runs:
            runs.write(".")
        if len((latch / "runs").read_text()) >= first and not (latch / "go").exists():
            (latch / "started").touch()
            deadline = time.monotonic() + WAIT_S
            while not (latch / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return value

    return held


def commit_first(write: Callable[[], object], latch: Path, other: Callable[[], object]):
    """Run `write` (which evaluates a `held_from_run(latch)` UDF) in a thread; once it is held,
    run `other` (another commit to the same table), then let the write go. Returns what
    `write` returned or raised, and what `other` returned."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = write()
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not (latch / "started").exists() and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (latch / "started").exists(), f"the write was never held: {outcome}"
    try:
        outcome["other"] = other()
    finally:
        (latch / "go").touch()
        thread.join(timeout=WAIT_S * 2)
    return outcome
