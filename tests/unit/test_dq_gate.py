"""The silver gate on tiny parsed batches: drop rows reach quarantine with every failed rule,
fail rules stop the batch before any write, results are recorded once per passing batch."""

from __future__ import annotations

import pytest

from gamelake.contracts import load_contracts
from gamelake.dq.gate import SilverGate
from gamelake.dq.results import RESULTS_TABLE, GateFailed
from gamelake.dq.rules import parse_rules
from gamelake.dq.suite import SuiteRunner
from gamelake.silver import parse_family, to_children, to_quarantine, to_silver
from tests.unit.test_silver import EXAMPLES, bronze

FAMILY = "player_activity"
GOOD = {"player_id": 1, "game_room_id": 7, "points": 10, "coordinates": "[1,2]"}
OFF_MAP = {**GOOD, "player_id": 2, "coordinates": "[500,2]"}
OFF_MAP_AND_RICH = {**GOOD, "player_id": 3, "coordinates": "[500,2]", "points": 5000}
BROKEN = {**GOOD, "player_id": 4, "points": -5}  # breaks the contract (min 0)
RULES = {
    "rules": [
        {"name": "on_map", "description": "d", "action": "drop", "check": "row",
         "expr": "coord_x between 0 and 100"},
        {"name": "per_round", "description": "d", "action": "drop", "check": "between",
         "column": "points", "max": 1000},
        {"name": "players", "description": "d", "action": "warn", "check": "between",
         "column": "player_id", "max": 1},
    ]
}  # fmt: skip


@pytest.fixture(scope="module")
def contracts(root):
    return load_contracts(root / "conf" / "contracts")


def gate_of(tmp_path, doc=RULES):
    rules = {f"silver.{FAMILY}": parse_rules(f"silver.{FAMILY}", doc)}
    return SilverGate(rules, tmp_path / "lake", "test-app", SuiteRunner())


def gated(spark, contracts, gate, payloads):
    contract = contracts[FAMILY]
    return gate.rows(parse_family(bronze(spark, FAMILY, payloads), contract), contract)


def test_drop_rules_route_rows_to_quarantine_with_every_failed_rule(spark, contracts, tmp_path):
    gate = gate_of(tmp_path)
    parsed = gated(spark, contracts, gate, [GOOD, OFF_MAP, OFF_MAP_AND_RICH, BROKEN])
    silver = to_silver(parsed, contracts[FAMILY]).collect()
    assert [r.player_id for r in silver] == [1]
    assert "_dq_drop_rules" not in to_silver(parsed, contracts[FAMILY]).columns
    quarantined = {r.raw_value: r for r in to_quarantine(parsed).collect()}
    assert len(quarantined) == 3
    by_player = {
        int(r.raw_value.decode().split(",")[0].split(":")[1]): r for r in quarantined.values()
    }
    assert by_player[2].rules == ["dq.on_map"]
    assert by_player[3].rules == ["dq.on_map", "dq.per_round"]
    assert "per_round: points = 5000 breaks points in [-inf, 1000]" in by_player[3].reason
    # A row that broke its contract is judged by the contract only.
    assert by_player[4].rules == ["contract.range"]


def test_a_repeated_key_keeps_its_first_good_row_in_kafka_order(spark, contracts, tmp_path):
    """A dropping unique rule: the later rows of a key go to quarantine naming the rule; a row
    that broke its contract earlier in Kafka never takes the good row's place."""
    doc = {"rules": [{"name": "one_per_player", "description": "d", "action": "drop",
                      "check": "unique", "column": "player_id"}]}  # fmt: skip
    gate = gate_of(tmp_path, doc)
    again = {**GOOD, "points": 20}
    good_four = {**GOOD, "player_id": 4}
    parsed = gated(spark, contracts, gate, [BROKEN, GOOD, again, good_four])
    silver = to_silver(parsed, contracts[FAMILY]).collect()
    assert sorted((r.player_id, r.points) for r in silver) == [(1, 10), (4, 10)]
    quarantined = sorted((r.kafka_offset, r.rules) for r in to_quarantine(parsed).collect())
    assert quarantined == [(0, ["contract.range"]), (2, ["dq.one_per_player"])]


def test_one_gate_judges_each_batch_by_its_own_rows(spark, contracts, tmp_path):
    """The gate builds a family's rule columns once and reuses them: nothing of a batch (its
    rows, its frame) may ride along into the next batch's verdicts."""
    gate = gate_of(tmp_path)
    first = gated(spark, contracts, gate, [GOOD, OFF_MAP])
    second = gated(spark, contracts, gate, [OFF_MAP_AND_RICH, {**GOOD, "player_id": 6}])
    for parsed, kept, dropped in ((first, [1], [["dq.on_map"]]),
                                  (second, [6], [["dq.on_map", "dq.per_round"]])):  # fmt: skip
        assert [r.player_id for r in to_silver(parsed, contracts[FAMILY]).collect()] == kept
        assert [r.rules for r in to_quarantine(parsed).collect()] == dropped
    counted = second.agg(*gate.count_columns(contracts[FAMILY])).first()
    assert (counted["_dq_n"], counted["_bound_rows"]) == (2, 1)


def test_rows_breaking_their_contract_never_reach_the_silver_expressions(
    spark, contracts, tmp_path
):
    """A one-number "coordinates" would fail coord_y's array index under ANSI mode."""
    gate = gate_of(tmp_path)
    bad = {**GOOD, "player_id": 5, "coordinates": "[1]"}
    parsed = gated(spark, contracts, gate, [GOOD, bad])
    assert [r.player_id for r in to_silver(parsed, contracts[FAMILY]).collect()] == [1]
    assert [r.rules for r in to_quarantine(parsed).collect()] == [["contract.pattern"]]


def test_a_passing_batch_records_its_results_once(spark, contracts, tmp_path):
    gate = gate_of(tmp_path)
    parsed = gated(spark, contracts, gate, [GOOD, OFF_MAP, {**GOOD, "player_id": 9}, BROKEN])
    results = gate.check(spark, 3, {FAMILY: parsed}, contracts)
    by_rule = {r.rule.name: r for r in results}
    assert (by_rule["on_map"].unexpected_count, by_rule["on_map"].evaluated_count) == (1, 3)
    assert by_rule["players"].unexpected_count == 2  # players 2 and 9 (warn: kept)
    gate.check(spark, 3, {FAMILY: parsed}, contracts)  # a replay of batch 3
    stored = spark.read.format("delta").load(str(tmp_path / "lake" / "ops" / RESULTS_TABLE))
    assert stored.count() == 3
    assert {r.rule for r in stored.where("not passed").collect()} == {"on_map", "players"}


def test_a_fail_rule_stops_the_batch_and_the_retry_is_recorded(spark, contracts, tmp_path):
    strict = {"rules": [*RULES["rules"], {"name": "few_points", "description": "d",
              "action": "fail", "check": "mean", "column": "points", "max": 5}]}  # fmt: skip
    gate = gate_of(tmp_path, strict)
    parsed = gated(spark, contracts, gate, [GOOD, OFF_MAP])
    with pytest.raises(GateFailed) as failed:
        gate.check(spark, 0, {FAMILY: parsed}, contracts)
    message = str(failed.value)
    assert "silver.player_activity rule 'few_points' (fail): observed 10" in message
    assert "threshold mean(points) in [-inf, 5]" in message
    # The rule is relaxed; the retried batch 0 passes and its results are not blocked.
    relaxed = gate_of(tmp_path)
    relaxed.check(spark, 0, {FAMILY: gated(spark, contracts, relaxed, [GOOD, OFF_MAP])}, contracts)
    stored = spark.read.format("delta").load(str(tmp_path / "lake" / "ops" / RESULTS_TABLE))
    runs = stored.groupBy("run_id").count().collect()
    assert len(runs) == 2
    assert stored.where("rule = 'few_points' and not passed").count() == 1


def test_tables_without_rules_pass_untouched(spark, contracts, tmp_path):
    gate = SilverGate({}, tmp_path / "lake", "app", SuiteRunner())
    parsed = gated(spark, contracts, gate, [GOOD, OFF_MAP])
    assert to_silver(parsed, contracts[FAMILY]).count() == 2
    assert to_children(parsed, contracts[FAMILY]) == {}
    assert gate.check(spark, 0, {FAMILY: parsed}, contracts) == []


def test_a_rule_naming_an_unknown_column_is_a_readable_error(spark, contracts, tmp_path):
    from gamelake.errors import GamelakeError

    bad = {"rules": [{"name": "x", "description": "d", "action": "warn", "check": "not_null",
                      "column": "game_room_id"}]}  # fmt: skip
    with pytest.raises(GamelakeError, match="reads column 'game_room_id'"):
        gated(spark, contracts, gate_of(tmp_path, bad), [GOOD])


def test_report_pass_rates_cover_the_last_n_evaluations_per_table(spark):
    import datetime as dt

    from gamelake.dq.report import pass_rates
    from gamelake.dq.results import RESULTS_SCHEMA

    t = dt.datetime(2026, 1, 1)
    rows = [
        # run, app, batch, layer, table, rule, kind, action, passed, observed, thr, bad, n, at
        (
            f"r{i}",
            "a",
            i,
            "silver",
            "t",
            "nn",
            "not_null",
            "drop",
            i != 1,
            f"{int(i == 1)} unexpected",
            "x not null",
            int(i == 1),
            10,
            t + dt.timedelta(minutes=i),
        )
        for i in range(4)
    ] + [
        ("g0", "a", 0, "gold", "g", "rows", "row_count", "fail", False, "0", "[1, inf]", None, 0, t)
    ]
    df = spark.createDataFrame(rows, RESULTS_SCHEMA)
    out = {(r.table_name, r.rule): r for r in pass_rates(df, last=3).collect()}
    silver = out[("t", "nn")]
    # The last three runs are r3, r2, r1: one of them failed.
    assert (silver.evaluations, round(silver.pass_rate, 3), silver.unexpected_rows) == (3, 0.667, 1)
    assert silver.last_observed == "0 unexpected" and silver.last_passed
    assert out[("g", "rows")].pass_rate == 0.0
    assert pass_rates(df.limit(0), last=3).count() == 0


def test_row_rule_counts_riding_in_the_callers_job_give_the_same_results(
    spark, contracts, tmp_path
):
    """The silver handler counts the row rules in its valid-row job (`count_columns`)."""
    gate = gate_of(tmp_path)
    parsed = gated(spark, contracts, gate, [GOOD, OFF_MAP, OFF_MAP_AND_RICH, BROKEN])
    counted = {FAMILY: parsed.agg(*gate.count_columns(contracts[FAMILY])).first()}

    def summary(results):
        return [(r.rule.name, r.passed, r.unexpected_count, r.evaluated_count) for r in results]

    own = gate.judge(spark, {FAMILY: parsed}, contracts)
    assert summary(gate.judge(spark, {FAMILY: parsed}, contracts, counted)) == summary(own)
    assert ("on_map", False, 2, 3) in summary(own)  # BROKEN failed its contract: not evaluated


def test_only_the_columns_row_rules_read_are_computed_for_them():
    from gamelake.dq.row import row_rule_columns

    rules = parse_rules(f"silver.{FAMILY}", RULES)
    columns = ["coord_x", "coord_y", "points", "player_id", "game_room_id"]
    assert row_rule_columns(rules, columns) == {"coord_x", "points", "player_id"}


def test_jobs_warm_the_gates_gx_context_up_in_the_background(tmp_path):
    import time

    from gamelake.jobgates import warm_up

    gates = [SilverGate({}, tmp_path, "", SuiteRunner()) for _ in range(2)]
    warm_up(None, *gates)  # None: a gate switched off (--no-gates)
    deadline = time.monotonic() + 120
    while any(g.runner._engine is None for g in gates) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(g.runner._engine is not None for g in gates)


def test_referential_rules_know_stored_and_arriving_keys(spark, contracts, tmp_path):
    """A room stored earlier or arriving in the same batch is known; the table is read once,
    then kept current from its log."""
    doc = {"rules": [{"name": "room_known", "description": "d", "action": "warn",
                      "check": "referential", "column": "room_id",
                      "ref_table": "silver.game_room", "ref_column": "room_id"}]}  # fmt: skip
    gate = gate_of(tmp_path, doc)
    room = contracts["game_room"]
    stored = tmp_path / "lake" / "silver" / "game_room"

    def rooms(*ids):
        payloads = [{**EXAMPLES["game_room"], "id": i} for i in ids]
        return gate.rows(parse_family(bronze(spark, "game_room", payloads), room), room)

    to_silver(rooms(7), room).write.format("delta").save(str(stored))
    in_rooms = [{**GOOD, "player_id": p, "game_room_id": r} for p, r in [(1, 7), (2, 8), (3, 9)]]
    activity = gated(spark, contracts, gate, in_rooms)

    def room_known(batch):
        (result,) = [r for r in gate.judge(spark, batch, contracts) if r.rule.name == "room_known"]
        return result.unexpected_count, result.evaluated_count

    assert room_known({FAMILY: activity, "game_room": rooms(8)}) == (1, 3)  # room 9
    to_silver(rooms(8, 9), room).write.format("delta").mode("append").save(str(stored))
    assert room_known({FAMILY: activity}) == (0, 3)
    assert gate.references.full_reads == 1
