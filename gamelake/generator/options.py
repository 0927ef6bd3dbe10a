"""What the generator is asked for: GeneratorOptions, their checks, and the event-time window."""

from __future__ import annotations

import dataclasses
import datetime as dt

from gamelake.contracts import Contract
from gamelake.errors import GamelakeError
from gamelake.generator.world import DRIVER_WEIGHTS

# Fixed so that a seeded run never depends on the wall clock.
DEFAULT_START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
DEFAULT_WORLD_RATE = 20.0  # events per simulated second of event time


@dataclasses.dataclass(frozen=True)
class GeneratorOptions:
    """What to generate; every field is plain data so a run can be repeated exactly."""

    seed: int
    events: int | None = None  # None: endless, the sink decides when to stop
    families: tuple[str, ...] | None = None  # None: every family of the contracts
    start_ms: int = int(DEFAULT_START.timestamp() * 1000)
    late_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    malformed_fraction: float = 0.0
    world_rate: float = DEFAULT_WORLD_RATE
    late_minutes: tuple[int, int] = (1, 30)
    # Shards are independent worlds (own players, rooms, servers, ids) of one seed, so that
    # several processes can generate one run together.
    shard: int = 0


def start_ms_ending_at(
    end: dt.datetime, events: int, world_rate: float = DEFAULT_WORLD_RATE
) -> int:
    """The first event time, epoch ms, for `events` events at `world_rate` to end about `end`.

    That is `events / world_rate` seconds before `end`. A step of the world may emit several
    events and duplicates take no event time, so with every family the last event falls
    earlier still (20,000 events: about 170 s before `end` at the default rate).
    """
    return int(end.timestamp() * 1000) - round(events / world_rate * 1000)


def validate_options(contracts: dict[str, Contract], options: GeneratorOptions) -> tuple[str, ...]:
    """The families to generate, after checking the options; raises GamelakeError."""
    families = options.families or tuple(f for f in DRIVER_WEIGHTS if f in contracts)
    unknown = [f for f in families if f not in contracts or f not in DRIVER_WEIGHTS]
    if unknown:
        raise GamelakeError(
            f"unknown event families: {', '.join(unknown)}",
            fix=f"use some of: {', '.join(f for f in DRIVER_WEIGHTS if f in contracts)}",
        )
    fractions = {
        "--late-fraction": options.late_fraction,
        "--duplicate-fraction": options.duplicate_fraction,
        "--malformed-fraction": options.malformed_fraction,
    }
    for name, value in fractions.items():
        if not 0 <= value <= 1:
            raise GamelakeError(f"{name} is {value}", fix="give a fraction between 0 and 1")
    if options.duplicate_fraction + options.malformed_fraction >= 1:
        raise GamelakeError(
            "duplicates and malformed records leave no room for valid events",
            fix="keep --duplicate-fraction + --malformed-fraction below 1",
        )
    if options.events is not None and options.events < 0:
        raise GamelakeError(f"--events is {options.events}", fix="give a count >= 0")
    if options.world_rate <= 0:
        raise GamelakeError(f"world rate is {options.world_rate}", fix="give a rate > 0")
    return families
