"""Contracts load, and both derivations (Spark schema, JSON Schema) accept the seeds' events."""

from __future__ import annotations

import decimal
import json

import jsonschema
import pytest
from pyspark.sql import functions as F

from gamelake.contracts import load_contracts, parse_contract
from gamelake.errors import GamelakeError
from tests.samples import EXAMPLES

FAMILIES = {
    "game_room", "player_activity", "player", "telemetry", "player_action", "transaction",
    "server_metric", "game_api", "user_score",
}  # fmt: skip


@pytest.fixture(scope="module")
def contracts(root):
    return load_contracts(root / "conf" / "contracts")


def test_every_family_has_a_contract(contracts):
    assert set(contracts) == FAMILIES == set(EXAMPLES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_json_schema_accepts_the_seed_example(contracts, family):
    jsonschema.Draft202012Validator.check_schema(contracts[family].json_schema())
    jsonschema.validate(EXAMPLES[family], contracts[family].json_schema())


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_json_schema_rejects_a_missing_required_field(contracts, family):
    contract = contracts[family]
    required_top = next(f for f in contract.fields if f.required)
    broken = {k: v for k, v in EXAMPLES[family].items() if k != required_top.name}
    with pytest.raises(jsonschema.ValidationError, match=required_top.name):
        jsonschema.validate(broken, contract.json_schema())


def test_json_schema_checks_enums_types_and_ranges(contracts):
    schema = contracts["telemetry"].json_schema()
    for bad in (
        {**EXAMPLES["telemetry"], "event_type": "revive"},
        {**EXAMPLES["telemetry"], "timestamp": "yesterday"},
        {**EXAMPLES["user_score"], "score": -1},
    ):
        target = contracts["user_score"].json_schema() if "score" in bad else schema
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, target)


def test_mixed_shape_arrays_accept_strings_objects_and_nulls(contracts):
    schema = contracts["game_api"].json_schema()
    inventory = schema["properties"]["player"]["properties"]["inventory"]
    assert inventory["items"] == {}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_spark_schema_parses_the_seed_example(spark, contracts, family):
    contract = contracts[family]
    df = spark.createDataFrame([(json.dumps(EXAMPLES[family]),)], "value string")
    parsed = df.select(F.from_json("value", contract.spark_schema()).alias("e")).first().e
    for field in contract.leaves():
        expected = EXAMPLES[family]
        for part in field.path:
            expected = expected.get(part) if isinstance(expected, dict) else None
        actual = parsed
        for part in field.path:
            actual = actual[part] if actual is not None else None
        if field.type == "array":
            assert len(actual) == len(expected)
        elif expected is not None:
            assert actual == expected or float(actual) == float(expected), field.dotted


def test_spark_keeps_money_exact_and_mixed_items_as_json_text(spark, contracts):
    tx = spark.createDataFrame([(json.dumps(EXAMPLES["transaction"]),)], "value string")
    amount = tx.select(
        F.from_json("value", contracts["transaction"].spark_schema()).alias("e")
    ).first()
    assert amount.e.parameters.amount == decimal.Decimal("4.99")

    api = spark.createDataFrame([(json.dumps(EXAMPLES["game_api"]),)], "value string")
    player = (
        api.select(F.from_json("value", contracts["game_api"].spark_schema()).alias("e"))
        .first()
        .e.player
    )
    assert player.inventory[0] == "cutlass"
    assert json.loads(player.inventory[1]) == {"item": "charm", "kind": "spell"}
    assert player.inventory[2] is None
    assert json.loads(player.affiliations[0])["org"] == "soldiers"
    assert player.affiliations[1] == "magicians"


def test_secrets_are_declared_and_dropped(contracts):
    assert contracts["game_api"].secret_paths() == [("password",)]
    assert contracts["game_api"].field("password").pii == "drop"
    assert contracts["player"].field("ip").pii == "mask"


def test_envelope_fields_are_in_every_contract(contracts):
    for contract in contracts.values():
        assert contract.field("event_id").type == "string"
        assert not contract.field("event_id").required


BASE = {
    "family": "f", "schema_version": 1, "key": "a",
    "event_type": {"value": "x"}, "event_time": {"field": "t"},
    "fields": {"a": {"type": "string"}, "t": {"type": "long", "format": "epoch_ms"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"key": "nope"}, "key names an undeclared field"),
        ({"event_type": {"field": "a", "value": "x"}}, "exactly one"),
        ({"fields": {"a": {"type": "strin"}, "t": {"type": "long", "format": "epoch_ms"}}}, "unknown type"),
        ({"fields": {"a": {"type": "string", "colum": "b"}, "t": {"type": "long", "format": "epoch_ms"}}}, "unknown keys"),
        ({"fields": {"a": {"type": "string", "column": "t"}, "t": {"type": "long", "format": "epoch_ms"}}}, "collide"),
        ({"fields": {"a": {"type": "string"}, "t": {"type": "long"}}}, "time `format`"),
    ],
)  # fmt: skip
def test_malformed_contracts_are_refused_with_a_reason(change, message):
    with pytest.raises(GamelakeError, match=message):
        parse_contract({**BASE, **change}, {}, "test.yaml")
