"""The game_api family of the simulated world: players calling seed 003's game API.

A player's first call registers an account (a wallet, health, a password, an old or a current
client); later calls log in, buy swords and spells, join guilds and teams or view the profile,
by the rules of gamelake.game_api. Each call is one event carrying the player's state after it.
Old clients (curl) send items and orgs as plain names, current ones as objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from gamelake import game_api
from gamelake.generator.catalog import Choice
from gamelake.generator.entities import ApiAccount, Player

if TYPE_CHECKING:
    from gamelake.generator.world import World

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


class _Call(NamedTuple):
    """One call's request line, outcome and the event fields it adds."""

    action: str
    status: str
    method: str
    path: str
    password: str | None = None
    details: dict[str, Any] | None = None  # fields after `status`: item and cost, or org


class ApiCalls:
    """The steps of the game_api family, drawing from the world's random generator."""

    def __init__(self, world: World):
        self.world = world
        self.rng = world.rng
        self.action = Choice(API_ACTIONS)
        self.org_level = Choice(ORG_LEVELS)

    def step(self, ts: int, late: bool) -> None:
        """One call of a player: registers a new account, else a call of a registered one."""
        player = self.world.pick_player(ts, late)
        if player.api is None:
            call = self._register(player, ts)
        else:
            call = self._call(player, player.api, ts)
            player.api.health = min(100, max(0, player.api.health + self.rng.randint(-15, 12)))
        self.world.emit(game_api.FAMILY, self._event(player, call, ts), late)

    def _register(self, player: Player, ts: int) -> _Call:
        rng = self.rng
        old = rng.random() < 0.3
        api = player.api = ApiAccount(
            wealth=float(rng.randrange(100, 5000, 10)),
            health=game_api.START_HEALTH,
            created=self.world.text.micros(ts),
            password=f"pw-{rng.getrandbits(48):012x}",
            user_agent=USER_AGENT_OLD if old else rng.choice(USER_AGENTS_NEW),
            old_client=old,
        )
        return _Call("register", game_api.CREATED, "POST", "/register", api.password)

    def _call(self, player: Player, api: ApiAccount, ts: int) -> _Call:
        action = "login" if not api.logged_in else self.action(self.rng)
        if action == "login":
            return self._login(api)
        if action in ("buy_sword", "buy_spell"):
            return self._buy(api, action)
        if action in ("join_guild", "join_team"):
            return self._join(player, api, action, ts)
        return _view(player)

    def _login(self, api: ApiAccount) -> _Call:
        rng = self.rng
        if rng.random() < 0.04:
            mistyped = f"pw-{rng.getrandbits(48):012x}"
            return _Call("login", game_api.DENIED, "POST", "/login", mistyped)
        api.logged_in = True
        api.wealth += game_api.LOGIN_BONUS
        return _Call("login", game_api.LOGGED_IN, "POST", "/login", api.password)

    def _buy(self, api: ApiAccount, action: str) -> _Call:
        kind = "sword" if action == "buy_sword" else "spell"
        item, cost = self.rng.choice(SWORDS if kind == "sword" else SPELLS)
        outcome = game_api.charge(action, api.wealth, cost)
        api.wealth = outcome.wealth
        if outcome.paid:
            self._add_item(api, item, kind)
        details = {"type": item, "cost": float(cost)}
        return _Call(action, outcome.status, "POST", _path(action), details=details)

    def _join(self, player: Player, api: ApiAccount, action: str, ts: int) -> _Call:
        orgs = GUILDS if action == "join_guild" else TEAMS
        joined = {a if isinstance(a, str) else a["org"] for a in api.affiliations}
        free = [o for o in orgs if o not in joined]
        if not free:
            return _view(player)
        org, level = self.rng.choice(free), self.org_level(self.rng)
        # Joining is free in the simulated game, so the wallet rule always lets it through.
        outcome = game_api.charge(action, api.wealth, 0.0)
        api.wealth = outcome.wealth
        if outcome.paid:
            joined_ts = self.world.text.micros(ts)
            api.affiliations.append(
                org if api.old_client else game_api.affiliation(org, level, joined_ts)
            )
        details = {"org": org, "level": level}
        return _Call(action, outcome.status, "POST", _path(action), details=details)

    def _add_item(self, api: ApiAccount, item: str, kind: str) -> None:
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

    def _event(self, player: Player, call: _Call, ts: int) -> dict[str, Any]:
        """The game_api event of a call: the call, its request, and the player's state after."""
        api = player.api
        assert api is not None
        event: dict[str, Any] = {
            "event_type": call.action,
            "timestamp": self.world.text.micros(ts),
            "user_id": player.uid,
            "user_name": player.handle,
        }
        if call.password is not None:
            event["password"] = call.password
        event["status"] = call.status
        event.update(call.details or {})
        event["request"] = {
            "method": call.method,
            "path": call.path,
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
        return event


def _path(action: str) -> str:
    return f"/{action.replace('_', '/')}"


def _view(player: Player) -> _Call:
    return _Call("view_profile", game_api.VIEWED, "GET", f"/profile/{player.uid}")
