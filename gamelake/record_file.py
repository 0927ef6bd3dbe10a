"""The record file: generated records as JSONL, one a line, UTF-8, written by `gamelake
generate --out` and read back by `gamelake produce`.

    {"family": "telemetry", "key": "player_1", "value": "{\\"player_id\\":...}", "flags": ["late"]}

- `family`: the event family; it routes the record to the family's topic.
- `key`: the Kafka key as text, or null for none.
- `value`: the Kafka value, the raw payload exactly as it is sent, as a JSON string, even when
  it is no valid JSON (a malformed record).
- `value_b64` / `key_b64` replace `value` / `key` when the bytes are not valid UTF-8: base64 of
  the exact bytes.
- `flags` (optional, informational): `late`, `duplicate`, `malformed:<kind>`.

For hand-written files, `value` may also be a JSON object (the format of conf/demo samples),
sent as compact JSON, and `key` a number. A line that is not such a wrapper is itself the
payload (gamelake/replay.py says where it goes).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

if TYPE_CHECKING:
    from gamelake.generator import Record

WRAPPER_KEYS = frozenset({"family", "key", "key_b64", "value", "value_b64", "flags"})


def _text_or_b64(name: str, data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {name: None}
    try:
        return {name: data.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_b64": base64.b64encode(data).decode("ascii")}


def record_flags(record: Record) -> list[str]:
    """The informational flags of a record, as written to a record file."""
    flags = []
    if record.late:
        flags.append("late")
    if record.duplicate:
        flags.append("duplicate")
    if record.malformed:
        flags.append(f"malformed:{record.malformed}")
    return flags


def encode_line(record: Record) -> bytes:
    """One record-file line (with its newline) for a generated record."""
    line: dict[str, Any] = {"family": record.family}
    line.update(_text_or_b64("key", record.key))
    line.update(_text_or_b64("value", record.value))
    flags = record_flags(record)
    if flags:
        line["flags"] = flags
    return orjson.dumps(line) + b"\n"


@dataclasses.dataclass(frozen=True)
class FileRecord:
    """One line of a record file: the payload to send, and its family when the line says."""

    line_no: int
    family: str | None
    key: bytes | None
    value: bytes
    wrapped: bool
    # Bytes of the line past its head, for a line longer than the reader's cap (else 0).
    cut: int = 0


def _field_bytes(item: dict[str, Any], name: str) -> tuple[bool, bytes | None]:
    """(ok, bytes) of a wrapper's text or base64 field; ok is False when it is ill-typed."""
    text, b64 = item.get(name), item.get(f"{name}_b64")
    if text is not None and b64 is not None:
        return False, None
    if b64 is not None:
        if not isinstance(b64, str):
            return False, None
        try:
            return True, base64.b64decode(b64, validate=True)
        except ValueError:
            return False, None
    if text is None:
        return True, None
    if isinstance(text, str):
        return True, text.encode("utf-8")
    if isinstance(text, bool):
        return False, None
    if isinstance(text, int):
        return True, str(text).encode()
    if isinstance(text, dict | list) and name == "value":
        # The demo samples' format carries the event itself: it is sent as compact JSON.
        return True, orjson.dumps(text)
    return False, None


def unwrap(line: bytes) -> tuple[str, bytes | None, bytes] | None:
    """(family, key, value) when the line is a record-file wrapper, else None."""
    if not line.startswith(b"{"):
        return None
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(item, dict) or not set(item) <= WRAPPER_KEYS:
        return None
    family = item.get("family")
    if not isinstance(family, str) or ("value" not in item and "value_b64" not in item):
        return None
    ok_key, key = _field_bytes(item, "key")
    ok_value, value = _field_bytes(item, "value")
    if not (ok_key and ok_value) or value is None:
        return None
    return family, key, value


def read_lines(fh: BinaryIO, cap: int = -1) -> Iterator[tuple[bytes, int]]:
    """Each line of a binary file without its ending, cut to `cap` bytes (-1: whole), and
    how many bytes were cut off: a huge line costs no more memory than the cap."""
    while line := fh.readline(cap):
        size, tail = len(line), line
        while not tail.endswith(b"\n") and (tail := fh.readline(1 << 20)):
            size += len(tail)
        ending = 2 if tail.endswith(b"\r\n") else 1 if tail.endswith(b"\n") else 0
        head = line[: size - ending] if size == len(line) else line
        yield head, size - ending - len(head)


def read_record_file(path: Path, raw: bool = False, cap: int = -1) -> Iterator[FileRecord]:
    """Every non-blank line of a file as a record: unwrapped when it is a record-file wrapper
    (unless `raw`), else the line's bytes as they are (without the line ending); a line over
    `cap` bytes is only its head, never unwrapped."""
    with path.open("rb") as fh:
        for line_no, (line, cut) in enumerate(read_lines(fh, cap), 1):
            if not cut and not line.strip():
                continue
            wrapped = None if raw or cut else unwrap(line)
            if wrapped is None:
                yield FileRecord(line_no, None, None, line, False, cut)
            else:
                family, key, value = wrapped
                yield FileRecord(line_no, family, key, value, True)


def count_blank_lines(path: Path, cap: int = -1) -> int:
    """How many lines of a file are empty or whitespace only (produce skips them)."""
    with path.open("rb") as fh:
        return sum(1 for line, cut in read_lines(fh, cap) if not cut and not line.strip())
