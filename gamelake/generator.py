"""A simulated game world that emits events of every family, in each contract's JSON shape.

`generate(contracts, options)` is a pure, deterministic iterator: one seeded `random.Random`,
no wall clock, no global state. The same options give byte-identical records. It knows
nothing of Kafka or files; the sinks (gamelake.kafka_io, gamelake.record_file) consume it.

The world: a growing population of players (names, IPv4s, platforms, currencies, teams, a
few "robot" accounts); rooms created by players; activity in existing rooms; play sessions
that climb levels or are abandoned; kills paired with deaths; purchases and refunds of
earlier purchases; per-region servers whose load drifts; Game API calls that keep a wallet,
an inventory and affiliations per player; team scores. Event time advances from `start_ms`
at about `world_rate` events per simulated second.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import operator
import random
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import orjson

from gamelake.contracts import Contract, Field, get_value
from gamelake.errors import GamelakeError

SOURCE = "generator"
# Fixed so that a seeded run never depends on the wall clock.
DEFAULT_START = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)

# How often each family drives a step of the world (prerequisites such as the registration
# of a new player or the death paired with a kill come on top).
DRIVER_WEIGHTS = {
    "game_room": 3,
    "player_activity": 16,
    "player": 2,
    "telemetry": 18,
    "player_action": 20,
    "transaction": 6,
    "server_metric": 10,
    "game_api": 12,
    "user_score": 13,
}
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
BROKEN_TEXT_KINDS = ("truncated", "trailing_garbage", "invalid_utf8", "not_json")
NOT_JSON_PAYLOADS = (
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b"player_1001,kill,1717200000000",
    b"",
    b"{'player_id': 1001, 'points': 12}",
)

FIRST_NAMES = (
    "Rossie", "Amara", "Jonas", "Keiko", "Mateo", "Lena", "Omar", "Priya", "Sven", "Chloe",
    "Diego", "Freya", "Hiro", "Imani", "Kofi", "Lucia", "Nils", "Olga", "Ravi", "Sade",
    "Tomas", "Uma", "Viktor", "Wen", "Yara", "Zane", "Ines", "Bruno", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Hobben", "Okafor", "Lindqvist", "Tanaka", "Silva", "Novak", "Haddad", "Sharma", "Berg",
    "Dubois", "Garcia", "Jensen", "Kato", "Mensah", "Rossi", "Petrov", "Walsh", "Costa",
    "Nakamura", "Fischer", "Moreau", "Kowalski", "Ali", "Brennan", "Santos", "Yilmaz",
)  # fmt: skip
ADJECTIVES = ("Amber", "Crimson", "Silver", "Azure", "Golden", "Shadow", "Emerald", "Iron")
ANIMALS = ("Dingo", "Koala", "Falcon", "Otter", "Lynx", "Viper", "Badger", "Heron")
PLATFORMS = (("PC", 45), ("Console", 25), ("Mobile", 30))
CURRENCIES = (("USD", 45), ("EUR", 25), ("GBP", 10), ("BRL", 12), ("JPY", 8))
# Hundredths of the currency per US cent; JPY has no minor unit, so its prices are whole.
CURRENCY_RATE = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "BRL": 5.0, "JPY": 100.0}
MODES = (("Classic", 40), ("Arcade", 30), ("Battle", 20), ("Puzzle", 10))
TIERS = (("Beginner", 50), ("Skilled", 35), ("Expert", 15))
TIER_POINTS = {"Beginner": (0, 300), "Skilled": (100, 700), "Expert": (300, 1000)}
REGIONS = {
    "us-west": 25.0,
    "us-east": 30.0,
    "eu-west": 35.0,
    "eu-central": 40.0,
    "ap-south": 90.0,
    "sa-east": 110.0,
}  # fmt: skip  (base latency, ms)
SHOP = (  # item_id, item_type, price in US cents
    ("skin_dragon", "skin", 499), ("skin_ninja", "skin", 299), ("skin_pirate", "skin", 399),
    ("weapon_axe", "weapon", 799), ("weapon_bow", "weapon", 599),
    ("spell_fireball", "spell", 199), ("spell_heal", "spell", 99),
    ("booster_xp", "booster", 149), ("booster_gold", "booster", 249),
    ("currency_pack_small", "currency_pack", 499), ("currency_pack_large", "currency_pack", 1999),
    ("currency_pack_mega", "currency_pack", 9999),
)  # fmt: skip
SWORDS = (("cutlass", 500), ("longsword", 1500), ("katana", 3000))  # name, gold
SPELLS = (("charm", 200), ("heal", 400), ("fireball", 800))
GUILDS = ("soldiers", "mages", "thieves", "knights", "rangers")
TEAMS = ("team_red", "team_blue", "team_green", "team_gold")
ORG_LEVELS = (("recruit", 50), ("member", 30), ("veteran", 12), ("masterofarms", 8))
API_ACTIONS = (
    ("buy_sword", 22), ("buy_spell", 22), ("join_guild", 7), ("join_team", 7),
    ("view_profile", 34), ("login", 8),
)  # fmt: skip
USER_AGENTS_NEW = (
    "GameClient/3.2 (Windows)", "GameClient/3.2 (PlayStation)", "GameClient/3.1 (Android)",
)  # fmt: skip
USER_AGENT_OLD = "curl/7.68.0"
API_HOST = "api.gamelake.example:5000"
MAX_LEVEL = 10


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
    world_rate: float = 20.0  # events per simulated second of event time
    late_minutes: tuple[int, int] = (1, 30)
    # Shards are independent worlds (own players, rooms, servers, ids) of one seed, so that
    # several processes can generate one run together.
    shard: int = 0


class Record(NamedTuple):
    """One Kafka record: the family it belongs to, key and value bytes, and how it was made."""

    family: str
    key: bytes | None
    value: bytes
    late: bool = False
    duplicate: bool = False
    malformed: str | None = None  # the MALFORMED_KINDS name


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    names = [n for n, _ in pairs]
    cum = list(itertools.accumulate(w for _, w in pairs))
    return names, cum


class _Choice:
    """Weighted choice with precomputed cumulative weights (random.choices is slower)."""

    def __init__(self, pairs: tuple[tuple[Any, int], ...]):
        self.names, self.cum = _weighted(pairs)
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.names[bisect.bisect_right(self.cum, rng.random() * self.total)]


@dataclasses.dataclass(eq=False, slots=True)
class _Api:
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
class _Player:
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
    api: _Api | None = None
    purchases: list[tuple[str, str, float]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(eq=False, slots=True)
class _Session:
    id: str
    player: _Player
    level: int
    map_id: str
    actions_left: int


@dataclasses.dataclass(eq=False, slots=True)
class _Server:
    id: str
    region: str
    server_type: str
    cpu: float
    memory: float


class _TimeText:
    """Event-time strings, with the per-second prefix cached (events share seconds)."""

    def __init__(self) -> None:
        self._sec = -1
        self._iso = ""
        self._micros = ""

    def _load(self, sec: int) -> None:
        t = dt.datetime.fromtimestamp(sec, dt.UTC)
        self._sec = sec
        self._iso = t.strftime("%Y-%m-%dT%H:%M:%S")
        self._micros = t.strftime("%Y-%m-%d %H:%M:%S")

    def iso(self, ms: int) -> str:
        sec, milli = divmod(ms, 1000)
        if sec != self._sec:
            self._load(sec)
        return f"{self._iso}.{milli:03d}Z"

    def micros(self, ms: int) -> str:
        sec, milli = divmod(ms, 1000)
        if sec != self._sec:
            self._load(sec)
        return f"{self._micros}.{milli:03d}000"


class _World:
    """The simulation: each `step` appends the events of one happening to `queue`."""

    def __init__(self, rng: random.Random, enabled: frozenset[str], shard: int = 0):
        self.rng = rng
        self.shard = shard
        self.enabled = enabled
        self.queue: deque[tuple[str, dict[str, Any], bool]] = deque()
        self.text = _TimeText()
        self.players: list[_Player] = []
        self.hosts: list[_Player] = []
        self.rooms: list[tuple[int, str]] = []
        self.sessions: list[_Session] = []
        self.session_of: dict[int, _Session] = {}
        self.servers: list[_Server] = []
        # Id ranges per shard, so the players and rooms of two shards never collide.
        self.next_player_id = shard * 10_000_000 + 1000 + rng.randrange(100)
        self.next_room_id = shard * 10_000_000 + 2000 + rng.randrange(1000)
        self.counter = itertools.count(shard * 1_000_000_000 + 1)
        self.platform = _Choice(PLATFORMS)
        self.currency = _Choice(CURRENCIES)
        self.mode = _Choice(MODES)
        self.tier = _Choice(TIERS)
        self.org_level = _Choice(ORG_LEVELS)
        self.api_action = _Choice(API_ACTIONS)
        self.teams = [f"team_{a}{b}" for a in ADJECTIVES for b in ANIMALS[:3]]
        drivers = tuple((f, DRIVER_WEIGHTS[f]) for f in DRIVER_WEIGHTS if f in enabled)
        self.driver = _Choice(drivers)
        self.steps = {
            "game_room": self._game_room,
            "player_activity": self._player_activity,
            "player": self._player,
            "telemetry": self._telemetry,
            "player_action": self._player_action,
            "transaction": self._transaction,
            "server_metric": self._server_metric,
            "game_api": self._game_api,
            "user_score": self._user_score,
        }

    def step(self, ts: int, late: bool) -> None:
        self.steps[self.driver(self.rng)](ts, late)

    def _emit(self, family: str, event: dict[str, Any], late: bool) -> None:
        if family in self.enabled:
            self.queue.append((family, event, late))

    # --- population ---------------------------------------------------------------------

    def _new_player(self, ts: int, late: bool) -> _Player:
        rng = self.rng
        pid = self.next_player_id
        self.next_player_id += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        player = _Player(
            id=pid,
            uid=f"player_{pid}",
            name=f"{first} {last}",
            handle=f"{first.lower()}{rng.randrange(100)}",
            ip=".".join(
                map(
                    str,
                    (
                        rng.randint(11, 223),
                        rng.randrange(256),
                        rng.randrange(256),
                        rng.randint(1, 254),
                    ),
                )
            ),
            platform=self.platform(rng),
            currency=self.currency(rng),
            team=rng.choice(self.teams),
            skill=rng.uniform(0.2, 1.0),
            robot=rng.random() < 0.01,
            host=rng.random() < 0.05,
        )
        self.players.append(player)
        if player.host:
            self.hosts.append(player)
        self._emit(
            "player",
            {"player_id": pid, "player_name": player.name, "ip": player.ip, "registered_ts": ts},
            late,
        )
        return player

    def _pick_player(self, ts: int, late: bool) -> _Player:
        if len(self.players) < 20 or self.rng.random() < 0.01:
            return self._new_player(ts, late)
        return self.players[int(self.rng.random() * len(self.players))]

    def _new_room(self, ts: int, late: bool) -> tuple[int, str]:
        rng = self.rng
        # A few players host most rooms ("top room creators").
        if self.hosts and rng.random() < 0.6:
            creator = rng.choice(self.hosts)
        else:
            creator = self._pick_player(ts, late)
        room_id = self.next_room_id
        self.next_room_id += rng.randint(1, 7)
        name = f"{self.mode(rng)} -- {self.tier(rng)}"
        self.rooms.append((room_id, name))
        event = {"id": room_id, "room_name": name, "created_date": ts, "creator_id": creator.id}
        self._emit("game_room", event, late)
        return room_id, name

    # --- families -----------------------------------------------------------------------

    def _player(self, ts: int, late: bool) -> None:
        self._new_player(ts, late)

    def _game_room(self, ts: int, late: bool) -> None:
        self._new_room(ts, late)

    def _player_activity(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self._pick_player(ts, late)
        if len(self.rooms) < 5 or rng.random() < 0.02:
            room_id, name = self._new_room(ts, late)
        else:
            # Players gather in the recently created rooms.
            room_id, name = self.rooms[-1 - int(rng.random() * min(50, len(self.rooms)))]
        low, high = TIER_POINTS[name.rsplit(" ", 1)[1]]
        points = int(low + (high - low) * (0.3 * rng.random() + 0.7 * player.skill * rng.random()))
        event = {
            "player_id": player.id,
            "game_room_id": room_id,
            "points": points,
            "coordinates": f"[{rng.randrange(101)},{rng.randrange(101)}]",
            "activity_ts": ts,
        }
        self._emit("player_activity", event, late)

    def _telemetry(self, ts: int, late: bool) -> None:
        rng = self.rng
        a = self._pick_player(ts, late)
        if rng.random() < 0.1:
            # Fell off the map: a death nobody scores.
            self._emit(
                "telemetry", {"player_id": a.uid, "event_type": "death", "timestamp": ts}, late
            )
            return
        b = self._pick_player(ts, late)
        while b is a:
            b = self._new_player(ts, late)
        killer, victim = (a, b) if rng.random() < a.skill / (a.skill + b.skill) else (b, a)
        self._emit(
            "telemetry", {"player_id": killer.uid, "event_type": "kill", "timestamp": ts}, late
        )
        self._emit(
            "telemetry", {"player_id": victim.uid, "event_type": "death", "timestamp": ts}, late
        )

    def _player_action(self, ts: int, late: bool) -> None:
        rng = self.rng
        if self.sessions and rng.random() < 0.85:
            session = self.sessions[int(rng.random() * len(self.sessions))]
        else:
            player = self._pick_player(ts, late)
            session = self.session_of.get(player.id) or self._start_session(player)
        player = session.player
        if session.actions_left > 0:
            session.actions_left -= 1
            event_type = "move" if rng.random() < 0.7 else "interaction"
        elif rng.random() < 0.04 + 0.03 * session.level:
            # Stuck: the last action at this level, then the player gives up.
            event_type = "interaction"
            self._end_session(session)
        else:
            event_type = "level_complete"
        event = {
            "event_name": "player_action",
            "parameters": {
                "player_id": player.uid,
                "session_id": session.id,
                "event_type": event_type,
                "level_id": f"level_{session.level:02d}",
                "map_id": session.map_id,
            },
            "event_timestamp": self.text.iso(ts),
            "user_data": {"user_id": player.uid, "platform": player.platform},
        }
        self._emit("player_action", event, late)
        if event_type == "level_complete":
            session.level += 1
            player.level = max(player.level, session.level)
            if session.level > MAX_LEVEL:
                player.level = 1  # finished the game: a new season starts at level 1
                self._end_session(session)
            else:
                session.map_id = f"map_{rng.randint(1, 3):02d}"
                session.actions_left = rng.randint(2, 10)

    def _start_session(self, player: _Player) -> _Session:
        session = _Session(
            id=f"session_{next(self.counter)}",
            player=player,
            level=player.level,
            map_id=f"map_{self.rng.randint(1, 3):02d}",
            actions_left=self.rng.randint(2, 10),
        )
        self.sessions.append(session)
        self.session_of[player.id] = session
        return session

    def _end_session(self, session: _Session) -> None:
        i = self.sessions.index(session)
        self.sessions[i] = self.sessions[-1]
        self.sessions.pop()
        del self.session_of[session.player.id]

    def _transaction(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self._pick_player(ts, late)
        if player.purchases and rng.random() < 0.08:
            # A refund returns an earlier purchase at its original price and currency.
            item_id, item_type, amount = player.purchases.pop(
                int(rng.random() * len(player.purchases))
            )
            kind, currency = "refund", player.currency
        else:
            item_id, item_type, cents = SHOP[int(rng.random() * len(SHOP))]
            currency = player.currency
            minor = round(cents * CURRENCY_RATE[currency])
            if currency == "JPY":
                minor = round(minor, -2)
            # An integer number of hundredths divided by 100 prints with at most 2 decimals.
            amount = minor / 100
            kind = "purchase"
            player.purchases.append((item_id, item_type, amount))
        event = {
            "event_name": "transaction",
            "parameters": {
                "transaction_id": f"txn_{next(self.counter):09d}",
                "transaction_type": kind,
                "currency": currency,
                "amount": amount,
                "item_id": item_id,
                "item_type": item_type,
            },
            "event_timestamp": self.text.iso(ts),
            "user_data": {"user_id": player.uid, "platform": player.platform},
        }
        self._emit("transaction", event, late)

    def _server_metric(self, ts: int, late: bool) -> None:
        rng = self.rng
        if not self.servers:
            for region in REGIONS:
                for i in range(1, 4):
                    self.servers.append(
                        _Server(
                            id=f"srv-{region}-{i:02d}"
                            if not self.shard
                            else f"srv-{region}-s{self.shard}-{i:02d}",
                            region=region,
                            server_type="dedicated" if rng.random() < 0.6 else "virtual",
                            cpu=rng.uniform(20, 60),
                            memory=rng.uniform(30, 70),
                        )
                    )
        server = self.servers[int(rng.random() * len(self.servers))]
        if rng.random() < 0.02:
            server.cpu = rng.uniform(92, 99.9)  # a load spike
        else:
            server.cpu = min(99.9, max(1.0, server.cpu + rng.uniform(-6, 6)))
        server.memory = min(99.5, max(5.0, server.memory + rng.uniform(-3, 3.2)))
        latency = REGIONS[server.region] * (1 + server.cpu / 100) + rng.uniform(0, 15)
        event = {
            "event_name": "server_metric",
            "parameters": {
                "server_id": server.id,
                "cpu_load": round(server.cpu, 2),
                "memory_usage": round(server.memory, 2),
                "latency": round(latency, 2),
            },
            "event_timestamp": self.text.iso(ts),
            "server_data": {"region": server.region, "server_type": server.server_type},
        }
        self._emit("server_metric", event, late)

    def _game_api(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self._pick_player(ts, late)
        api = player.api
        extra: dict[str, Any] = {}
        if api is None:
            old = rng.random() < 0.3
            api = player.api = _Api(
                wealth=float(rng.randrange(100, 5000, 10)),
                health=100,
                created=self.text.micros(ts),
                password=f"pw-{rng.getrandbits(48):012x}",
                user_agent=USER_AGENT_OLD if old else rng.choice(USER_AGENTS_NEW),
                old_client=old,
            )
            action, status, method, path = "register", "created", "POST", "/register"
            extra["password"] = api.password
        else:
            action = "login" if not api.logged_in else self.api_action(rng)
            method, path = "POST", f"/{action.replace('_', '/')}"
            if action == "login":
                if rng.random() < 0.04:
                    status = "denied"
                    extra["password"] = f"pw-{rng.getrandbits(48):012x}"  # mistyped
                else:
                    status = "logged_in"
                    extra["password"] = api.password
                    api.logged_in = True
                    api.wealth += 100.0  # daily login bonus
            elif action in ("buy_sword", "buy_spell"):
                kind = "sword" if action == "buy_sword" else "spell"
                item, cost = rng.choice(SWORDS if kind == "sword" else SPELLS)
                extra["type"], extra["cost"] = item, float(cost)
                if api.wealth >= cost:
                    status = "approved_purchase"
                    api.wealth -= cost
                    self._add_item(api, item, kind)
                else:
                    status = "insufficient_funds"
            elif action in ("join_guild", "join_team"):
                orgs = GUILDS if action == "join_guild" else TEAMS
                joined = {a if isinstance(a, str) else a["org"] for a in api.affiliations}
                free = [o for o in orgs if o not in joined]
                if free:
                    org, level = rng.choice(free), self.org_level(rng)
                    extra["org"], extra["level"] = org, level
                    status = "joined"
                    api.affiliations.append(
                        org
                        if api.old_client
                        else {"org": org, "level": level, "joined_ts": self.text.micros(ts)}
                    )
                else:
                    action, status, method = "view_profile", "viewed", "GET"
                    path = f"/profile/{player.uid}"
            else:
                action, status, method, path = (
                    "view_profile",
                    "viewed",
                    "GET",
                    f"/profile/{player.uid}",
                )
            api.health = min(100, max(0, api.health + rng.randint(-15, 12)))
        event: dict[str, Any] = {
            "event_type": action,
            "timestamp": self.text.micros(ts),
            "user_id": player.uid,
            "user_name": player.handle,
        }
        if "password" in extra:
            event["password"] = extra.pop("password")
        event["status"] = status
        event.update(extra)
        event["request"] = {
            "method": method,
            "path": path,
            "host": API_HOST,
            "accept": "*/*" if api.old_client else "application/json",
            "user_agent": api.user_agent,
        }
        event["player"] = {
            "wealth": round(api.wealth, 2),
            "health": api.health,
            "created": api.created,
            "inventory": list(api.inventory),
            "affiliations": list(api.affiliations),
        }
        self._emit("game_api", event, late)

    def _add_item(self, api: _Api, item: str, kind: str) -> None:
        if self.rng.random() < 0.04:
            api.inventory.append(None)  # a slot the client failed to fill
        if api.old_client:
            api.inventory.append(item)
        else:
            for i, held in enumerate(api.inventory):
                if isinstance(held, dict) and held["item"] == item:
                    # A new dict, so snapshots already taken keep their quantity.
                    api.inventory[i] = {**held, "qty": held["qty"] + 1}
                    break
            else:
                api.inventory.append({"item": item, "kind": kind, "qty": 1})
        if len(api.inventory) > 12:
            del api.inventory[0]  # sold the oldest item to make room

    def _user_score(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self._pick_player(ts, late)
        # Robots score far above everyone else: what abuse detection must catch.
        robot_score = rng.randint(600, 1000) if player.robot else None
        score = robot_score or min(1000, int(rng.expovariate(1 / 40)))
        event = {
            "user_id": player.uid,
            "team_id": player.team,
            "score": score,
            "event_time_millis": ts,
        }
        self._emit("user_score", event, late)


# --- malformed records ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Shape:
    """Per family: the paths a corruption can target."""

    scalars: tuple[Field, ...]
    required: tuple[Field, ...]
    domain: tuple[Field, ...]


def _shape(contract: Contract) -> _Shape:
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
    return _Shape(scalars, required, domain)


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


def _corrupt(
    rng: random.Random, kind: str, shape: _Shape, event: dict[str, Any], value: bytes
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


# --- the iterator -------------------------------------------------------------------------------


def _key_getter(path: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """A function giving the key field's value of a valid event (its path always exists)."""
    if len(path) == 1:
        return operator.itemgetter(path[0])
    return lambda event: get_value(event, path)


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


def generate(contracts: dict[str, Contract], options: GeneratorOptions) -> Iterator[Record]:
    """Records of the simulated world: valid events plus the requested late, duplicate and
    malformed ones, deterministic for the options."""
    families = validate_options(contracts, options)
    rng = random.Random(options.seed if not options.shard else f"{options.seed}/{options.shard}")
    world = _World(rng, frozenset(families), options.shard)
    shapes = {f: _shape(contracts[f]) for f in families}
    keys = {f: _key_getter(contracts[f].key) for f in families}
    versions = {f: contracts[f].schema_version for f in families}
    malformed_kind = _Choice(tuple(MALFORMED_KINDS.items()))
    recent: deque[Record] = deque(maxlen=512)  # what a duplicate re-sends
    id_prefix = (
        f"gen{options.seed}-" if not options.shard else f"gen{options.seed}.{options.shard}-"
    )
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
            value, corrupted = _corrupt(rng, kind, shapes[family], event, value)
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


# --- pacing -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pacer:
    """How many events may have been sent `elapsed` seconds into a run at `rate` events/s on
    average: steady, with a burst at `burst_factor` times the base rate for `burst_s`
    seconds of every `period_s`."""

    rate: float
    period_s: float = 10.0
    burst_s: float = 1.0
    burst_factor: float = 3.0

    def allowed(self, elapsed: float) -> float:
        if self.rate <= 0:
            return float("inf")
        # Base rate chosen so that a whole period averages `rate`.
        base = self.rate * self.period_s / (self.period_s + (self.burst_factor - 1) * self.burst_s)
        periods, into = divmod(elapsed, self.period_s)
        in_burst = min(into, self.burst_s)
        per_period = base * (self.period_s + (self.burst_factor - 1) * self.burst_s)
        return periods * per_period + base * (into + (self.burst_factor - 1) * in_burst)
