"""Hand-written hostile Kafka values for the fault tests: each a (name, value bytes) built
from one valid event of a family, so that the only thing wrong is the named hostility.

Every value is distinct (its own event_id where it has one), so that none of them can be
dropped as a re-send: each must end in silver or in quarantine.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gamelake.contracts import Contract

ONE_MB = 1_000_000  # under Kafka's default 1 MiB message limit, envelope included


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(event)
    node = out
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return out
    node[path[-1]] = value
    return out


def _dump(event: Any) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def hostile_values(contract: Contract, valid: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The hostile cases of the issue built on `valid` (a parsed valid event of `contract`)."""
    cases: list[tuple[str, bytes]] = []
    serial = iter(range(1_000_000))

    def event(**changes: Any) -> dict[str, Any]:
        """`valid` under a fresh event_id, with `path=value` changes (dotted by '__')."""
        out = _set(valid, ("event_id",), f"hostile-{contract.family}-{next(serial):04d}")
        for dotted, value in changes.items():
            out = _set(out, tuple(dotted.split("__")), value)
        return out

    time_path = contract.event_time_field
    string_leaves = [f for f in contract.leaves() if f.type == "string" and not f.enum
                     and not f.pattern and not f.format and f.path[0] != "event_id"]  # fmt: skip
    numeric_leaves = [f for f in contract.leaves() if f.type in ("int", "long", "double")]

    def nested(depth: int) -> bytes:
        """The event with an unknown field `depth` objects deep (built as text: json.dumps
        recurses)."""
        text = _dump(event(extra_nest="@NEST@"))
        return text.replace(b'"@NEST@"', b'{"n":' * depth + b"1" + b"}" * depth)

    # Deep nesting: an unknown field 200 levels deep (rescued), and 5000 levels (past Jackson's
    # default nesting limit of 1000: unparseable), and a bare array nest.
    cases.append(("deep_nesting_extra_field", nested(200)))
    cases.append(("deep_nesting_5000", nested(5000)))
    cases.append(("deep_array_nesting", b"[" * 3000 + b"]" * 3000))
    # A 1 MB payload: a huge string in a free-text field (or an unknown one).
    big = "x" * ONE_MB
    field = string_leaves[0].path if string_leaves else ("extra_blob",)
    payload = _dump(_set(event(), field, big))
    cases.append(("one_mb_payload", payload[: ONE_MB + 200] if len(payload) > ONE_MB + 200
                  else payload))  # fmt: skip
    # Invalid UTF-8 inside an otherwise valid JSON string, and at the top level.
    text = _dump(event())
    cases.append(("invalid_utf8_in_string", text.replace(b'"hostile-', b'"\xff\xfehostile-', 1)))
    cases.append(("invalid_utf8_bare", b"\xc3\x28\xa0\xa1" + text))
    # NaN / Infinity where numbers belong (not JSON, but many parsers accept them).
    if numeric_leaves:
        path = numeric_leaves[0].path
        for name, token in (
            ("nan", "NaN"),
            ("infinity", "Infinity"),
            ("neg_infinity", "-Infinity"),
        ):
            marker = _dump(event(**{"__".join(path): 12345.5}))
            cases.append((f"{name}_number", marker.replace(b"12345.5", token.encode(), 1)))
        # Numbers as strings.
        cases.append(("number_as_string", _dump(event(**{"__".join(path): "42"}))))
        cases.append(("number_as_garbage_string", _dump(event(**{"__".join(path): "4x2"}))))
    # Timestamps in 1970 and 2100 (epoch ms, ISO, and epoch 0).
    tp = "__".join(time_path)
    cases.append(("timestamp_epoch_0", _dump(event(**{tp: 0}))))
    cases.append(("timestamp_1970_iso", _dump(event(**{tp: "1970-01-01T00:00:00Z"}))))
    cases.append(("timestamp_2100_iso", _dump(event(**{tp: "2100-01-01T00:00:00Z"}))))
    cases.append(("timestamp_2100_ms", _dump(event(**{tp: 4_102_444_800_000}))))
    cases.append(("timestamp_year_99999", _dump(event(**{tp: "99999-01-01T00:00:00Z"}))))
    # Duplicate JSON keys: the same event_id twice with two values, and a field twice.
    body = _dump(event())[1:]
    cases.append(("duplicate_key_event_id",
                  f'{{"event_id":"hostile-{contract.family}-dupkey",'.encode() + body))  # fmt: skip
    cases.append(("duplicate_key_time", b'{"' + time_path[-1].encode() + b'":"not a time",'
                  + _dump(event())[1:]))  # fmt: skip
    # Top-level arrays, nulls and other non-objects.
    cases.append(("top_level_array_of_event", b"[" + _dump(event()) + b"]"))
    cases.append(("top_level_empty_array", b"[]"))
    cases.append(("top_level_null", b"null"))
    cases.append(("top_level_string", b'"just a string"'))
    cases.append(("top_level_number", b"42"))
    cases.append(("top_level_true", b"true"))
    cases.append(("empty_object", b"{}"))
    cases.append(("whitespace_only", b"   \n\t "))
    cases.append(("nul_bytes", b"\x00\x00" + _dump(event())))
    cases.append(("event_id_null", _dump(_set(event(), ("event_id",), None))))
    cases.append(("event_id_object", _dump(_set(event(), ("event_id",), {"id": 1}))))
    return cases
