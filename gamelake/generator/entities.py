"""The simulated world's mutable things: players (with their game-API account), play sessions and
servers. Plain records; the world (gamelake.generator.world) changes them as it steps."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(eq=False, slots=True)
class ApiAccount:
    """A player's state in the game API: wallet, health, login, items and orgs."""

    wealth: float
    health: int
    created: str
    password: str
    user_agent: str
    old_client: bool
    logged_in: bool = False
    inventory: list[Any] = dataclasses.field(default_factory=list)
    affiliations: list[Any] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False, slots=True)
class Player:
    """A registered player: who they are, how well they play, what they bought."""

    id: int
    uid: str
    name: str
    handle: str
    ip: str
    platform: str
    currency: str
    team: str
    skill: float
    robot: bool
    host: bool
    level: int = 1
    api: ApiAccount | None = None
    purchases: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False, slots=True)
class Session:
    """A play session climbing the levels of one map at a time."""

    id: str
    player: Player
    level: int
    map_id: str
    actions_left: int


@dataclasses.dataclass(eq=False, slots=True)
class Server:
    """A game server whose load drifts."""

    id: str
    region: str
    server_type: str
    cpu: float
    memory: float
