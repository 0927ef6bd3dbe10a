"""The record inspector (jvm/src) against the variant reading it replaced, on hostile records.

For every payload, what the JVM pass reports (strict object, string event id, present and
wrong-kind leaves, drift) must equal what Spark's own variant of the record says.
"""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from gamelake.inspector import field_kind, inspection, leaf_bit, spec
from gamelake.silver import json_object
from tests.samples import EXAMPLES
from tests.unit.test_silver import all_contracts

_NUMBER_KINDS = ("TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE")


def _payloads(family: str) -> list[bytes]:
    example = json.dumps(EXAMPLES[family])
    inner = example[1:-1]
    return [
        example.encode(),
        b"",
        b"   ",
        b"null",
        b"[1, 2]",
        b'"text"',
        b"42",
        b"{}",
        b'{"a": 1}}',
        b'{"a": 1} {"b": 2}',
        b'{"a": 1}, "gamelake:end-of-record"',
        b'{"a": 1}\n',
        b"{'a': 1}",
        b'{"a": NaN}',
        b'{"a": 01}',
        b'{"a": 1 /* c */}',
        b'{"a": "tab\there"}',
        b'{"a": "\xff\xfe"}',
        b'{"a": "\\ud800"}',
        b'{"\\udc00": 1}',
        b'{"a": [{"b": "x\\ud800y"}]}',
        b'{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}',
        b'{"a": 1e400, "b": -0.0, "c": 123456789012345678901234567890123456789012}',
        b'{"a": [[[[[[{"b": {"c": [1, {"d": null}]}}]]]]]]}',
        b'{"event_id": 7}',
        b'{"event_id": "e-1", "event_id": 7}',
        b'{"event_id": 7, "event_id": "e-2"}',
        b'{"event_id": "caf\\u00e9 \\"q\\""}',
        # Bytes beyond ASCII, judged as the text Spark decodes: valid UTF-8, malformed bytes
        # (replaced by U+FFFD), an encoded surrogate, an overlong encoding.
        '{"event_id": "café ☃ 😀", "a": "ü"}'.encode(),
        b'{"event_id": "a\xffb"}',
        b'{"event_id": "\xed\xa0\x80"}',
        b'{"event_id": "\xc0\xaf"}',
        b'{"a": 1}\xc2\xa0',
        # Objects in UTF-16 and UTF-32 (a parser of bytes guesses those from the NULs among
        # the first bytes): not JSON as Spark decodes them (UTF-8).
        '{"a": 1}'.encode("utf-16-le"),
        '{"a": 1}'.encode("utf-32-be"),
        b'{\x00"a": 1}',
        ("{" + inner + ', "undeclared": {"x": 1}}').encode(),
        ("{" + inner + ', "undeclared": null}').encode(),
        *_kind_payloads(family, EXAMPLES[family]),
    ]


def _kind_payloads(family: str, example: dict) -> list[bytes]:
    """The example with each declared field replaced by values of other JSON kinds, repeated,
    nulled, and (for objects) given an undeclared key."""
    out = []
    for f in all_contracts()[family].walk():
        for value in (None, 12345, "12345", 1.5, True, [1], {"k": "v"}):
            out.append(json.dumps(_with(example, f.path, value)).encode())
        text = json.dumps(_with(example, f.path, "placeholder"))
        # A repeated key: its last value wins (null, another kind).
        key = json.dumps(f.path[-1])
        out.append(text.replace(f'{key}: "placeholder"', f'{key}: "a", {key}: null').encode())
        out.append(text.replace(f'{key}: "placeholder"', f'{key}: 1, {key}: "b"').encode())
        out.append(
            text.replace(f'{key}: "placeholder"', f'{key}: {{"z": 1}}, {key}: {{}}').encode()
        )
        if f.type == "struct":
            out.append(json.dumps(_with(example, (*f.path, "drifted"), 1)).encode())
    return out


def _with(example: dict, path: tuple[str, ...], value) -> dict:
    copy = json.loads(json.dumps(example))
    node = copy
    for name in path[:-1]:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[path[-1]] = value
    return copy


def _reference(contract):
    """What the record's variant says, as the inspector reports it."""
    v = json_object(F.col("text"))

    def member(path):
        return F.try_variant_get(v, "$" + "".join(f"['{p}']" for p in path), "variant")

    present, wrong = [], []
    for f in contract.leaves():
        m = member(f.path)
        # A value under a parent that is not an object is not there (the typed parse says null).
        parents_are_objects = F.lit(True)
        for i in range(1, len(f.path)):
            kind = F.schema_of_variant(member(f.path[:i]))
            parents_are_objects = parents_are_objects & kind.startswith("OBJECT")
        here = m.isNotNull() & ~F.is_variant_null(m) & parents_are_objects
        kind = F.schema_of_variant(m)
        if field_kind(f) == "string":
            bad = kind != "STRING"
        elif field_kind(f) == "number":
            bad = ~(kind.isin(*_NUMBER_KINDS) | kind.startswith("DECIMAL"))
        else:
            bad = F.lit(False)
        present.append(F.coalesce(here, F.lit(False)))
        wrong.append(F.coalesce(here & bad, F.lit(False)))
    drifts = []
    levels = [((), contract.fields)] + [
        (f.path, f.fields) for f in contract.walk() if f.type == "struct"
    ]
    for path, fields in levels:
        keys = F.map_keys(
            F.try_variant_get(member(path) if path else v, "$", "map<string,variant>")
        )
        known = F.array(*[F.lit(f.name) for f in fields])
        drifts.append(F.coalesce(F.size(F.array_except(keys, known)) > 0, F.lit(False)))
    given = member(("event_id",))
    return {
        "is_object": v.isNotNull(),
        "event_id": F.when(F.schema_of_variant(given) == "STRING", given.cast("string")),
        "present": F.array(*present),
        "wrong_kind": F.array(*wrong),
        "drift": F.when(v.isNotNull(), F.array(*drifts)),
    }


@pytest.mark.parametrize("family", ["telemetry", "game_api", "transaction", "server_metric"])
def test_the_inspector_reads_each_record_as_its_variant_does(spark, family):
    contract = all_contracts()[family]
    payloads = _payloads(family)
    rows = spark.createDataFrame([(family, p) for p in payloads], "family string, value binary")
    rows = rows.withColumn("text", F.col("value").cast("string"))
    found = F.col("_i")
    inspected = rows.withColumn("_i", inspection(all_contracts(), F.col("family"), F.col("text")))
    n = len(contract.leaves())
    got = inspected.select(
        found.is_object.alias("is_object"),
        found.event_id.alias("event_id"),
        F.array(*[F.coalesce(leaf_bit(found.present, i), F.lit(False)) for i in range(n)]).alias(
            "present"
        ),
        F.array(*[F.coalesce(leaf_bit(found.wrong_kind, i), F.lit(False)) for i in range(n)]).alias(
            "wrong_kind"
        ),
        found.drift.alias("drift"),
    ).collect()
    expected = rows.select(*[c.alias(k) for k, c in _reference(contract).items()]).collect()
    assert len(got) == len(expected) == len(payloads)
    mismatches = []
    for payload, g, e in zip(payloads, got, expected, strict=True):
        e = e.asDict()
        e["drift"] = bool(e["drift"]) and any(e["drift"])
        g = g.asDict()
        if not g["is_object"]:
            g["drift"] = False
        if g != e:
            mismatches.append((payload[:120], {k: (g[k], e[k]) for k in g if g[k] != e[k]}))
    assert not mismatches, mismatches[:5]


def test_a_contract_with_more_than_64_leaves_uses_more_words(spark):
    fields = [{"path": [f"f{i}"], "kind": "string"} for i in range(70)]
    declared = json.dumps({"wide": fields})
    from gamelake import inspector

    udf = inspector._jvm_udf(declared)
    from pyspark.sql.classic.column import Column, _to_java_column, _to_seq

    record = json.dumps({"f0": "a", "f63": 1, "f64": "b", "f69": None})
    rows = spark.createDataFrame([("wide", record)], "family string, text string")
    col = Column(
        udf.apply(_to_seq(spark.sparkContext, [F.col("family"), F.col("text")], _to_java_column))
    )
    (row,) = rows.select(col.alias("i")).collect()
    present = {i for i in range(70) if row.i.present[i // 64] >> (i % 64) & 1}
    wrong = {i for i in range(70) if row.i.wrong_kind[i // 64] >> (i % 64) & 1}
    assert (present, wrong) == ({0, 63, 64}, {63})


def test_the_spec_declares_every_field_parents_first():
    declared = json.loads(spec(all_contracts()))
    api = [tuple(f["path"]) for f in declared["game_api"]]
    assert api.index(("request",)) < api.index(("request", "method"))
    assert {f["kind"] for f in declared["transaction"]} >= {"object", "number", "string"}
