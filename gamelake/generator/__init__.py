"""A simulated game world that emits events of every family, in each contract's JSON shape.

`generate(contracts, options)` is a pure, deterministic iterator: one seeded `random.Random`,
no wall clock, no global state. The same options give byte-identical records. It knows
nothing of Kafka or files: `gamelake generate` sends its records to either. Event time
advances from `options.start_ms` at about `options.world_rate` events per simulated second.

    options.py     GeneratorOptions, their checks, the start time that ends a run at a moment
    records.py     generate: the world's events as numbered Kafka records, late, duplicated or
                   malformed on request
    world.py       the simulation: players, rooms, sessions, kills, purchases, servers, scores
    api_calls.py   the game_api family: players calling the game API (rules: gamelake.game_api)
    entities.py    the world's mutable things (players, sessions, servers, game-API accounts)
    catalog.py     the world's fixed tables and weighted choice
    corruption.py  malformed records: broken text or contract-violating JSON
    pacing.py      Pacer: a steady average send rate with bursts
"""

from gamelake.generator.options import (
    DEFAULT_START,
    GeneratorOptions,
    start_ms_ending_at,
    validate_options,
)
from gamelake.generator.pacing import Pacer
from gamelake.generator.records import Record, generate

__all__ = [
    "DEFAULT_START",
    "GeneratorOptions",
    "Pacer",
    "Record",
    "generate",
    "start_ms_ending_at",
    "validate_options",
]
