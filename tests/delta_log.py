"""Hand-written Delta commit files for tests of code that reads a table's `_delta_log` (the
ledger, reference keys, lakefs), on a local folder or on S3 alike."""

from __future__ import annotations

import json

from gamelake import lakefs

ADD = {"add": {"path": "part-0.parquet", "size": 1, "dataChange": True}}


def info(ts: int, user_metadata: str | None = None) -> dict:
    """A commitInfo action written at `ts` (ms), optionally carrying userMetadata."""
    action: dict = {"timestamp": ts, "operation": "WRITE"}
    if user_metadata is not None:
        action["userMetadata"] = user_metadata
    return {"commitInfo": action}


def write_commit(log_dir, version: int, *actions: dict) -> None:
    """Commit file `version` of the log at `log_dir`, one action per line."""
    lakefs.mkdirs(log_dir)
    lines = [json.dumps(a, separators=(",", ":")) for a in actions]
    assert lakefs.create_if_absent(log_dir / f"{version:020d}.json", "\n".join(lines) + "\n")
