"""Which family a raw payload is, by its shape: the contracts' `recognised_by` fields (seed
002's `{"event_name": "player_action", ...}`, seed 000's rooms by `id`, `room_name` and
`created_date`). `gamelake produce` and the collector route by it when nothing names the
family; a payload no contract recognises stays unrouted."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson

from gamelake.contracts import Contract, get_value


@dataclasses.dataclass(frozen=True)
class Recogniser:
    """A family's recognising fields, each with the values it may hold (None: any value)."""

    family: str
    fields: tuple[tuple[tuple[str, ...], frozenset[Any] | None], ...]

    def matches(self, payload: dict[str, Any]) -> bool:
        """True when the payload holds every field, with an allowed value."""
        for path, allowed in self.fields:
            value = get_value(payload, path)
            if value is None or (allowed is not None and value not in allowed):
                return False
        return True


def recognisers(contracts: Mapping[str, Contract]) -> tuple[Recogniser, ...]:
    """The recognisers of the contracts that declare `recognised_by`, most fields first."""
    found = []
    for name, contract in contracts.items():
        if not contract.recognised_by:
            continue
        fields = []
        for path in contract.recognised_by:
            enum = contract.field(path).enum
            # Unhashable values (lists, objects) are no discriminators.
            allowed = frozenset(v for v in enum if not isinstance(v, list | dict)) if enum else None
            fields.append((path, allowed))
        found.append(Recogniser(name, tuple(fields)))
    return tuple(sorted(found, key=lambda r: -len(r.fields)))


def route(payload: Any, by: tuple[Recogniser, ...]) -> str | None:
    """The family whose recogniser matches the parsed payload; the one with the most fields
    when several do; None when none does, or two equally specific ones do."""
    if not isinstance(payload, dict):
        return None
    matched = [r for r in by if r.matches(payload)]
    if not matched or (len(matched) > 1 and len(matched[1].fields) == len(matched[0].fields)):
        return None
    return matched[0].family


def route_bytes(value: bytes, by: tuple[Recogniser, ...]) -> str | None:
    """The family of a raw record's bytes (None when they are no JSON object)."""
    if not value.lstrip().startswith(b"{"):
        return None
    try:
        return route(orjson.loads(value), by)
    except orjson.JSONDecodeError:
        return None
