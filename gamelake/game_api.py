"""The rules of seed 003's game API: the statuses a call answers and the wallet rule.

One home for what the generator's simulated players and the collector's emulator of the API
must agree on, and for the statuses gold reads back (gamelake.gold.batch). Pure data and pure
functions: no state, no clock. The statuses are the `status` enum of
conf/contracts/game_api.yaml.

The wallet rule: a paid action (a purchase or a join) costing no more than the player's
wealth is paid and answers its success status; one costing more changes nothing and answers
`insufficient_funds` (there is no credit).
"""

from __future__ import annotations

from typing import NamedTuple

# The contract family the calls are events of.
FAMILY = "game_api"

# Statuses, one per outcome of a call.
CREATED = "created"  # register: a new user
DENIED = "denied"  # register of an existing user, login with a wrong password
LOGGED_IN = "logged_in"
PURCHASED = "approved_purchase"
INSUFFICIENT_FUNDS = "insufficient_funds"
JOINED = "joined"
VIEWED = "viewed"
STATUSES = (CREATED, DENIED, LOGGED_IN, PURCHASED, INSUFFICIENT_FUNDS, JOINED, VIEWED)

# The actions that cost gold, and the status each answers when paid.
PAID_STATUS = {
    "buy_sword": PURCHASED,
    "buy_spell": PURCHASED,
    "join_guild": JOINED,
    "join_team": JOINED,
}

START_HEALTH = 100
START_WEALTH = 1000.0  # a new user's wealth when the register call names none
LOGIN_BONUS = 100.0  # gold a successful login adds (the daily bonus)


class Charge(NamedTuple):
    """The outcome of a paid action: its status and the player's wealth after it."""

    status: str
    wealth: float

    @property
    def paid(self) -> bool:
        """Whether the action was paid (and so took effect)."""
        return self.status != INSUFFICIENT_FUNDS


def charge(action: str, wealth: float, cost: float) -> Charge:
    """The status and wealth after `action` (a key of PAID_STATUS) costing `cost` gold."""
    if cost <= wealth:
        return Charge(PAID_STATUS[action], wealth - cost)
    return Charge(INSUFFICIENT_FUNDS, wealth)


def affiliation(org: str, level: str, joined_ts: str) -> dict[str, str]:
    """The `player.affiliations` entry a join adds (current clients; older ones send `org`)."""
    return {"org": org, "level": level, "joined_ts": joined_ts}
