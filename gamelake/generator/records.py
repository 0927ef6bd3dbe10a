"""The generator's iterator: the world's events as Kafka records, numbered and stamped, with the
requested shares of late, duplicate and malformed ones."""

from __future__ import annotations

import operator
import random
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import orjson

from gamelake.contracts import Contract, get_value
from gamelake.generator.catalog import Choice
from gamelake.generator.corruption import MALFORMED_KINDS, corrupt, shape
from gamelake.generator.options import GeneratorOptions, validate_options
from gamelake.generator.world import World

SOURCE = "generator"


class Record(NamedTuple):
    """One Kafka record: the family it belongs to, key and value bytes, and how it was made."""

    family: str
    key: bytes | None
    value: bytes
    late: bool = False
    duplicate: bool = False
    malformed: str | None = None  # the MALFORMED_KINDS name


def _key_getter(path: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """A function giving the key field's value of a valid event (its path always exists)."""
    if len(path) == 1:
        return operator.itemgetter(path[0])
    return lambda event: get_value(event, path)


def generate(contracts: dict[str, Contract], options: GeneratorOptions) -> Iterator[Record]:
    """Records of the simulated world: valid events plus the requested late, duplicate and
    malformed ones, deterministic for the options."""
    families = validate_options(contracts, options)
    rng = random.Random(options.seed if not options.shard else f"{options.seed}/{options.shard}")
    run = f"{options.seed}" if not options.shard else f"{options.seed}.{options.shard}"
    world = World(rng, frozenset(families), options.shard, options.seed)
    shapes = {f: shape(contracts[f]) for f in families}
    keys = {f: _key_getter(contracts[f].key) for f in families}
    versions = {f: contracts[f].schema_version for f in families}
    malformed_kind = Choice(tuple(MALFORMED_KINDS.items()))
    recent: deque[Record] = deque(maxlen=512)  # what a duplicate re-sends
    id_prefix = f"gen{run}-"
    late_low, late_high = (m * 60_000 for m in options.late_minutes)
    dup, bad = options.duplicate_fraction, options.duplicate_fraction + options.malformed_fraction
    late_fraction = options.late_fraction
    mean_gap_ms = 1000.0 / options.world_rate
    clock = float(options.start_ms)
    dumps = orjson.dumps
    n = 0
    limit = options.events
    while limit is None or n < limit:
        r = rng.random()
        if r < dup and recent:
            original = recent[int(rng.random() * len(recent))]
            yield original._replace(duplicate=True)
            n += 1
            continue
        while not world.queue:
            clock += rng.expovariate(1.0) * mean_gap_ms
            late = rng.random() < late_fraction
            ts = int(clock) - rng.randint(late_low, late_high) if late else int(clock)
            world.step(ts, late)
        family, event, late = world.queue.popleft()
        n += 1
        event["event_id"] = f"{id_prefix}{n:010d}"
        event["source"] = SOURCE
        event["schema_version"] = versions[family]
        value = dumps(event)
        if r < bad:
            kind = malformed_kind(rng)
            key_value = keys[family](event)
            value, corrupted = corrupt(rng, kind, shapes[family], event, value)
            if corrupted is not None:
                key_value = get_value(corrupted, contracts[family].key)
            elif kind == "not_json":
                key_value = None
            key = None if key_value is None else str(key_value).encode()
            yield Record(family, key, value, late, False, kind)
            continue
        key_value = keys[family](event)
        record = Record(family, None if key_value is None else str(key_value).encode(), value, late)
        recent.append(record)
        yield record
