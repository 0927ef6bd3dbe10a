"""Malformed records: a valid event's payload broken as text (truncated, trailing garbage,
invalid UTF-8, no JSON at all) or as JSON that breaks its contract (a wrong type, a missing
required field, a value out of its domain), in MALFORMED_KINDS's proportions."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import orjson

from gamelake.contracts import Contract, Field, get_value

MALFORMED_KINDS = {
    # broken JSON text
    "truncated": 3,
    "trailing_garbage": 2,
    "invalid_utf8": 2,
    "not_json": 2,
    # parseable JSON that breaks the contract
    "wrong_type": 4,
    "missing_required": 4,
    "out_of_domain": 4,
}
NOT_JSON_PAYLOADS = (
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"player_1001,kill,1717200000000",
    b"",
    b"{'player_id': 1001, 'points': 12}",
)


@dataclasses.dataclass(frozen=True)
class Shape:
    """Per family: the paths a corruption can target."""

    scalars: tuple[Field, ...]
    required: tuple[Field, ...]
    domain: tuple[Field, ...]


def shape(contract: Contract) -> Shape:
    scalar_types = ("string", "int", "long", "double", "boolean")
    fields = list(contract.walk())
    required_paths = {f.path for f in fields if f.required}
    # Required all the way down: missing it breaks the schema even though parents exist.
    required = tuple(
        f for f in fields if all(f.path[: i + 1] in required_paths for i in range(len(f.path)))
    )
    scalars = tuple(f for f in fields if f.type in scalar_types or f.decimal)
    domain = tuple(
        f
        for f in scalars
        if f.enum is not None or f.pattern is not None or f.min is not None or f.max is not None
    )
    return Shape(scalars, required, domain)


def _set(event: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        event = event[part]
    event[path[-1]] = value


def _delete(event: dict[str, Any], path: tuple[str, ...]) -> None:
    for part in path[:-1]:
        event = event[part]
    del event[path[-1]]


def _wrong_type(field: Field) -> Any:
    if field.type == "string":
        return 12345
    if field.type == "boolean":
        return "yes"
    if field.type in ("int", "long"):
        return "12abc"
    return "1.5e"  # double or decimal, as text that is no number


def _out_of_domain(field: Field, value: Any) -> Any:
    if field.enum is not None:
        return "teleport" if "teleport" not in field.enum else "bogus_value"
    if field.pattern is not None:
        return "??"
    if field.max is not None:
        over = field.max + 1
        return int(over) if isinstance(value, int) else float(over)
    assert field.min is not None
    under = field.min - 1
    return int(under) if isinstance(value, int) else float(under)


def corrupt(
    rng: random.Random, kind: str, shape: Shape, event: dict[str, Any], value: bytes
) -> tuple[bytes, dict[str, Any] | None]:
    """The malformed payload, and the (corrupted) event when it is still JSON."""
    if kind == "truncated":
        return value[: rng.randint(1, len(value) - 1)], None
    if kind == "trailing_garbage":
        return value + rng.choice((b"}", b",", b'"', b"\x00")), None
    if kind == "invalid_utf8":
        at = value.find(b':"') + 2  # inside the first string value
        return value[:at] + b"\xff\xfe" + value[at:], None
    if kind == "not_json":
        return rng.choice(NOT_JSON_PAYLOADS), None
    if kind == "missing_required":
        _delete(event, rng.choice(shape.required).path)
    else:
        pool = shape.scalars if kind == "wrong_type" else shape.domain
        present = [f for f in pool if get_value(event, f.path) is not None]
        field = rng.choice(present)
        bad = (
            _wrong_type(field)
            if kind == "wrong_type"
            else _out_of_domain(field, get_value(event, field.path))
        )
        _set(event, field.path, bad)
    return orjson.dumps(event), event
