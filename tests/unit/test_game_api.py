"""The game-API rules: the statuses are the contract's, and the wallet rule pays or refuses."""

from __future__ import annotations

import pytest

from gamelake import game_api
from gamelake.contracts import load_contracts


@pytest.fixture(scope="module")
def contract(root):
    return load_contracts(root / "conf" / "contracts")[game_api.FAMILY]


def test_statuses_and_paid_actions_are_the_contracts(contract):
    fields = {f.dotted: f for f in contract.walk()}
    assert set(game_api.STATUSES) == set(fields["status"].enum)
    assert set(game_api.PAID_STATUS) <= set(fields["event_type"].enum)
    assert set(game_api.PAID_STATUS.values()) <= set(game_api.STATUSES)


@pytest.mark.parametrize(
    ("action", "status"),
    [("buy_sword", "approved_purchase"), ("buy_spell", "approved_purchase"),
     ("join_guild", "joined"), ("join_team", "joined")],
)  # fmt: skip
def test_an_affordable_action_is_paid(action, status):
    outcome = game_api.charge(action, 1000.0, 400.0)
    assert outcome == (status, 600.0)
    assert outcome.paid


def test_the_whole_wallet_may_be_spent_and_a_free_action_is_always_paid():
    assert game_api.charge("buy_spell", 800.0, 800.0) == ("approved_purchase", 0.0)
    assert game_api.charge("join_team", 0.0, 0.0) == ("joined", 0.0)


def test_an_unaffordable_action_changes_nothing():
    outcome = game_api.charge("buy_sword", 499.0, 500.0)
    assert outcome == ("insufficient_funds", 499.0)
    assert not outcome.paid


def test_an_unpaid_action_is_refused():
    with pytest.raises(KeyError):
        game_api.charge("view_profile", 100.0, 0.0)


def test_affiliation_entry():
    entry = game_api.affiliation("mages", "recruit", "2026-01-01 00:00:00.000000")
    assert entry == {"org": "mages", "level": "recruit", "joined_ts": "2026-01-01 00:00:00.000000"}
