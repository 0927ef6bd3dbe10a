"""The simulated world: players, rooms, sessions, servers and what happens to them.

Each `World.step` draws a family by DRIVER_WEIGHTS and appends the events of one happening
to the world's queue: a growing population of players (names, IPv4s, platforms, currencies,
teams, a few "robot" accounts); rooms created by players; activity in existing rooms; play
sessions that climb levels or are abandoned; kills paired with deaths; purchases and refunds
of earlier purchases; per-region servers whose load drifts; game-API calls
(gamelake.generator.api_calls); team scores. All randomness comes from one seeded
`random.Random`, so a world is replayable.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import deque
from typing import Any

from gamelake.generator.api_calls import ApiCalls
from gamelake.generator.catalog import (
    ADJECTIVES,
    ANIMALS,
    CURRENCIES,
    CURRENCY_RATE,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_LEVEL,
    MODES,
    PLATFORMS,
    REGIONS,
    SHOP,
    TIER_POINTS,
    TIERS,
    Choice,
)
from gamelake.generator.entities import Player, Server, Session

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


class TimeText:
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


class World:
    """The simulation: each `step` appends the events of one happening to `queue`."""

    def __init__(self, rng: random.Random, enabled: frozenset[str], shard: int = 0, seed: int = 0):
        self.rng = rng
        self.shard = shard
        self.enabled = enabled
        self.queue: deque[tuple[str, dict[str, Any], bool]] = deque()
        self.text = TimeText()
        self.players: list[Player] = []
        self.hosts: list[Player] = []
        self.rooms: list[tuple[int, str]] = []
        self.sessions: list[Session] = []
        self.session_of: dict[int, Session] = {}
        self.servers: list[Server] = []
        # Id ranges per shard, so the players and rooms of two shards never collide.
        self.next_player_id = shard * 10_000_000 + 1000 + rng.randrange(100)
        self.next_room_id = shard * 10_000_000 + 2000 + rng.randrange(1000)
        # Sessions and transactions are unique across runs, not only within one: a second run
        # into the same lake (another seed or shard) must not repeat a transaction id, and the
        # ids stay digits (silver's transaction_id_format rule).
        self.counter = itertools.count((abs(seed) * 1000 + shard) * 1_000_000_000 + 1)
        self.platform = Choice(PLATFORMS)
        self.currency = Choice(CURRENCIES)
        self.mode = Choice(MODES)
        self.tier = Choice(TIERS)
        self.teams = [f"team_{a}{b}" for a in ADJECTIVES for b in ANIMALS[:3]]
        drivers = tuple((f, DRIVER_WEIGHTS[f]) for f in DRIVER_WEIGHTS if f in enabled)
        self.driver = Choice(drivers)
        self.steps = {
            "game_room": self._game_room,
            "player_activity": self._player_activity,
            "player": self._player,
            "telemetry": self._telemetry,
            "player_action": self._player_action,
            "transaction": self._transaction,
            "server_metric": self._server_metric,
            "game_api": ApiCalls(self).step,
            "user_score": self._user_score,
        }

    def step(self, ts: int, late: bool) -> None:
        self.steps[self.driver(self.rng)](ts, late)

    def emit(self, family: str, event: dict[str, Any], late: bool) -> None:
        if family in self.enabled:
            self.queue.append((family, event, late))

    # --- population ---------------------------------------------------------------------

    def _new_player(self, ts: int, late: bool) -> Player:
        rng = self.rng
        pid = self.next_player_id
        self.next_player_id += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        player = Player(
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
        self.emit(
            "player",
            {"player_id": pid, "player_name": player.name, "ip": player.ip, "registered_ts": ts},
            late,
        )
        return player

    def pick_player(self, ts: int, late: bool) -> Player:
        if len(self.players) < 20 or self.rng.random() < 0.01:
            return self._new_player(ts, late)
        return self.players[int(self.rng.random() * len(self.players))]

    def _new_room(self, ts: int, late: bool) -> tuple[int, str]:
        rng = self.rng
        # A few players host most rooms ("top room creators").
        if self.hosts and rng.random() < 0.6:
            creator = rng.choice(self.hosts)
        else:
            creator = self.pick_player(ts, late)
        room_id = self.next_room_id
        self.next_room_id += rng.randint(1, 7)
        name = f"{self.mode(rng)} -- {self.tier(rng)}"
        self.rooms.append((room_id, name))
        event = {"id": room_id, "room_name": name, "created_date": ts, "creator_id": creator.id}
        self.emit("game_room", event, late)
        return room_id, name

    # --- families -----------------------------------------------------------------------

    def _player(self, ts: int, late: bool) -> None:
        self._new_player(ts, late)

    def _game_room(self, ts: int, late: bool) -> None:
        self._new_room(ts, late)

    def _player_activity(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self.pick_player(ts, late)
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
        self.emit("player_activity", event, late)

    def _telemetry(self, ts: int, late: bool) -> None:
        rng = self.rng
        a = self.pick_player(ts, late)
        if rng.random() < 0.1:
            # Fell off the map: a death nobody scores.
            self.emit(
                "telemetry", {"player_id": a.uid, "event_type": "death", "timestamp": ts}, late
            )
            return
        b = self.pick_player(ts, late)
        while b is a:
            b = self._new_player(ts, late)
        killer, victim = (a, b) if rng.random() < a.skill / (a.skill + b.skill) else (b, a)
        self.emit(
            "telemetry", {"player_id": killer.uid, "event_type": "kill", "timestamp": ts}, late
        )
        self.emit(
            "telemetry", {"player_id": victim.uid, "event_type": "death", "timestamp": ts}, late
        )

    def _player_action(self, ts: int, late: bool) -> None:
        rng = self.rng
        if self.sessions and rng.random() < 0.85:
            session = self.sessions[int(rng.random() * len(self.sessions))]
        else:
            player = self.pick_player(ts, late)
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
        self.emit("player_action", event, late)
        if event_type == "level_complete":
            session.level += 1
            player.level = max(player.level, session.level)
            if session.level > MAX_LEVEL:
                player.level = 1  # finished the game: a new season starts at level 1
                self._end_session(session)
            else:
                session.map_id = f"map_{rng.randint(1, 3):02d}"
                session.actions_left = rng.randint(2, 10)

    def _start_session(self, player: Player) -> Session:
        session = Session(
            id=f"session_{next(self.counter)}",
            player=player,
            level=player.level,
            map_id=f"map_{self.rng.randint(1, 3):02d}",
            actions_left=self.rng.randint(2, 10),
        )
        self.sessions.append(session)
        self.session_of[player.id] = session
        return session

    def _end_session(self, session: Session) -> None:
        i = self.sessions.index(session)
        self.sessions[i] = self.sessions[-1]
        self.sessions.pop()
        del self.session_of[session.player.id]

    def _transaction(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self.pick_player(ts, late)
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
        self.emit("transaction", event, late)

    def _server_metric(self, ts: int, late: bool) -> None:
        rng = self.rng
        if not self.servers:
            for region in REGIONS:
                for i in range(1, 4):
                    self.servers.append(
                        Server(
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
        self.emit("server_metric", event, late)

    def _user_score(self, ts: int, late: bool) -> None:
        rng = self.rng
        player = self.pick_player(ts, late)
        # Robots score far above everyone else: what abuse detection must catch.
        robot_score = rng.randint(600, 1000) if player.robot else None
        score = robot_score or min(1000, int(rng.expovariate(1 / 40)))
        event = {
            "user_id": player.uid,
            "team_id": player.team,
            "score": score,
            "event_time_millis": ts,
        }
        self.emit("user_score", event, late)
