"""Seed 003 compatibility front
----------------------------
The Flask game API of seed 003, form-encoded: ``POST /create/user`` (userid, userpwd,
username, wealth), ``POST /buy/sword`` and ``/buy/spell`` (userid, type, cost),
``POST /join/guild`` and ``/join/team`` (userid, org, level, cost), ``GET /data/user?userid=``.
Each call emits one game_api event with the player's state after it (wealth, health,
inventory, affiliations, created); the password is never kept nor produced. Player state is
an in-memory dict per app instance. Purchases and paid joins follow the wallet rule of
gamelake/game_api.py: one costing more than the player's wealth changes nothing and yields
status ``insufficient_funds``. Answers are the seed's short texts; an unknown user is a 404.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from gamelake import game_api
from gamelake.collector.ingest import Collector, Outcome, request_meta
from gamelake.errors import GamelakeError
from gamelake.rejects import iso_utc

TAGS = ["seed 003"]


def _micros(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclasses.dataclass
class Player:
    user_id: str
    user_name: str
    wealth: float
    created: str
    health: int = game_api.START_HEALTH
    inventory: list[Any] = dataclasses.field(default_factory=list)
    affiliations: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """The contract's `player` struct: the state after the call."""
        return {
            "wealth": self.wealth,
            "health": self.health,
            "created": self.created,
            "inventory": list(self.inventory),
            "affiliations": [dict(a) for a in self.affiliations],
        }


def _unknown(user_id: str) -> PlainTextResponse:
    return PlainTextResponse(f"Unknown user {user_id} :(", 404)


def _request_fields(request: Request) -> dict[str, Any]:
    """The contract's `request` struct of a call."""
    return {
        "method": request.method,
        "path": request.url.path,
        "host": request.headers.get("host"),
        "accept": request.headers.get("accept"),
        "user_agent": request.headers.get("user-agent"),
    }


class GameApi:
    """Seed 003's game API over in-memory player state: each call emits one game_api event
    through the collector, and changes the state only once that event is in Kafka."""

    def __init__(self, collector: Collector):
        self.collector = collector
        self.family = collector.families[game_api.FAMILY]
        self.players: dict[str, Player] = {}
        # One lock for state and produce: a player's wealth never races between two purchases.
        self.lock = threading.Lock()

    def emit(self, request: Request, fields: dict[str, Any], player: Player | None) -> Any:
        """None once the call's game_api event is in Kafka; else the error answer (400 when
        the event is invalid or too large, 503 when Kafka failed)."""
        now = self.collector.clock()
        event: dict[str, Any] = {
            "timestamp": _micros(now),
            **fields,
            "request": _request_fields(request),
        }
        if player is not None:
            event["player"] = player.snapshot()
        errors, reason = self.family.errors(event), "contract_violation"
        try:
            if not errors:
                errors, reason = (
                    self.collector.accept(self.family, event, iso_utc(now)),
                    "too_large",
                )
            if errors:
                self.collector.reject(
                    Outcome(), 0, game_api.FAMILY, reason, errors, event, iso_utc(now),
                    request_meta(request),
                )  # fmt: skip
            self.collector.producer.flush()
        except GamelakeError as exc:
            return JSONResponse({"error": str(exc)}, 503)
        if errors:
            return JSONResponse(
                {"accepted": 0, "rejected": 1,
                 "errors": [{"index": 0, "family": game_api.FAMILY, "errors": errors}]},
                400,
            )  # fmt: skip
        return None

    def register(self, request: Request, userid: str, username: str, wealth: float) -> Any:
        """The answer to /create/user: a new player, or 409 for an existing one."""
        with self.lock:
            if userid in self.players:
                fields = {"event_type": "register", "user_id": userid, "status": game_api.DENIED}
                return self.emit(request, fields, self.players[userid]) or PlainTextResponse(
                    "User exists :(", 409
                )
            player = Player(userid, username, wealth, _micros(self.collector.clock()))
            fields = {"event_type": "register", "user_id": userid, "user_name": username,
                      "status": game_api.CREATED}  # fmt: skip
            failed = self.emit(request, fields, player)
            if failed:
                return failed
            self.players[userid] = player
        return PlainTextResponse("Created user +:)")

    def pay(
        self,
        request: Request,
        action: str,
        userid: str,
        cost: float,
        fields: dict[str, Any],
        gain: Callable[[Player], None],
    ) -> Response | bool:
        """Whether a paid action took effect by the wallet rule (then `gain` changed the
        player); an error answer when the user is unknown or its event failed."""
        with self.lock:
            player = self.players.get(userid)
            if player is None:
                return _unknown(userid)
            after = dataclasses.replace(
                player, inventory=list(player.inventory), affiliations=list(player.affiliations)
            )
            charged = game_api.charge(action, player.wealth, cost)
            if charged.paid:
                after.wealth = charged.wealth
                gain(after)
            fields = {"event_type": action, "user_id": userid, "user_name": player.user_name,
                      "status": charged.status, **fields}  # fmt: skip
            failed = self.emit(request, fields, after)
            if failed:
                return failed
            self.players[userid] = after
        return charged.paid

    def buy(self, request: Request, action: str, userid: str, item: str, cost: float) -> Any:
        """The answer to /buy/sword or /buy/spell."""
        paid = self.pay(
            request, action, userid, cost, {"type": item, "cost": cost},
            lambda after: after.inventory.append(item),
        )  # fmt: skip
        if not isinstance(paid, bool):
            return paid
        if not paid:
            return PlainTextResponse("You do not have sufficient funds [:(")
        if action == "buy_sword":
            return PlainTextResponse("Sword purchased [:)")
        return PlainTextResponse("Spell purchased <:)")

    def join(
        self, request: Request, action: str, userid: str, org: str, level: str, cost: float
    ) -> Any:
        """The answer to /join/guild or /join/team."""

        def enrol(after: Player) -> None:
            joined = _micros(self.collector.clock())
            after.affiliations.append(game_api.affiliation(org, level, joined))

        fields = {"org": org, "level": level, "cost": cost}
        paid = self.pay(request, action, userid, cost, fields, enrol)
        if not isinstance(paid, bool):
            return paid
        if not paid:
            return PlainTextResponse("You do not have sufficient funds [:(")
        return PlainTextResponse(f"Joined #{action.removeprefix('join_')}")

    def view(self, request: Request, userid: str) -> Any:
        """The answer to /data/user: the player's state."""
        with self.lock:
            player = self.players.get(userid)
            if player is None:
                return _unknown(userid)
            fields = {"event_type": "view_profile", "user_id": userid,
                      "user_name": player.user_name, "status": game_api.VIEWED}  # fmt: skip
            failed = self.emit(request, fields, player)
            if failed:
                return failed
        return JSONResponse({"user_id": userid, "user_name": player.user_name, **player.snapshot()})


def add_routes(app: FastAPI, collector: Collector) -> None:
    """Nothing: adds seed 003's game API routes to the app, over one GameApi's player state."""
    api = GameApi(collector)

    @app.post("/create/user", tags=TAGS, response_class=PlainTextResponse)
    def create_user(
        request: Request,
        userid: str = Form(...),
        username: str = Form(...),
        userpwd: str = Form("", description="Accepted for compatibility; never stored."),
        wealth: float = Form(game_api.START_WEALTH, ge=0),
    ) -> Any:
        del userpwd  # a secret: never kept, never produced
        return api.register(request, userid, username, wealth)

    for action in ("buy_sword", "buy_spell"):
        _add_buy_route(app, api, action)
    for action in ("join_guild", "join_team"):
        _add_join_route(app, api, action)

    @app.get("/data/user", tags=TAGS)
    def data_user(request: Request, userid: str = Query(...)) -> Any:
        return api.view(request, userid)


def _path(action: str) -> str:
    """The route of a paid action: buy_sword is /buy/sword."""
    return "/" + action.replace("_", "/", 1)


def _add_buy_route(app: FastAPI, api: GameApi, action: str) -> None:
    """Nothing: adds /buy/sword or /buy/spell to the app."""

    @app.post(_path(action), name=action, tags=TAGS, response_class=PlainTextResponse)
    def buy(
        request: Request, userid: str = Form(...), type: str = Form(...), cost: float = Form(ge=0)
    ) -> Any:
        return api.buy(request, action, userid, type, cost)


def _add_join_route(app: FastAPI, api: GameApi, action: str) -> None:
    """Nothing: adds /join/guild or /join/team to the app."""

    @app.post(_path(action), name=action, tags=TAGS, response_class=PlainTextResponse)
    def join(
        request: Request,
        userid: str = Form(...),
        org: str = Form(...),
        level: str = Form(""),
        cost: float = Form(0.0, ge=0),
    ) -> Any:
        return api.join(request, action, userid, org, level, cost)
