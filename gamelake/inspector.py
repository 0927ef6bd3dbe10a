"""The record inspector: one strict JSON pass per record on the JVM, judged by its contract.

`inspection(contracts)` is a Column function of (family, text) giving the struct of
jvm/src/gamelake/jvm/RecordInspector.java: whether the text is one strict JSON object, its
string `event_id`, which declared leaves hold a value (`present`), which of those hold a JSON
kind their type refuses (`wrong_kind`), and whether a declared object level holds undeclared
keys (`drift`). Leaf i of `contract.leaves()` is bit i of those words (`leaf_bit`).

It replaces the record's variant and its level structs on every row: ~5 s against ~1.3 s a
100k-row batch, the latter about what Spark's typed parse of the same text costs
(docs/hot-path.md). The rare rows that need values themselves read them from the text: a
failing rule's message its field, a drifting record's rescued fields a variant of it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

from gamelake.contracts import Contract, Field
from gamelake.errors import GamelakeError

_WORD_BITS = 64


def field_kind(f: Field) -> str:
    """What the inspector checks of a declared field's JSON kind: a nested level (object), a
    JSON string, a JSON number, or nothing (the typed parse refuses every wrong kind)."""
    if f.type == "struct":
        return "object"
    if f.type == "string":
        return "string"
    if f.decimal:
        return "number"
    return "any"


def spec(contracts: Mapping[str, Contract]) -> str:
    """The inspector's declaration of every family's fields, parents first (its constructor's
    argument)."""
    return json.dumps(
        {
            family: [{"path": list(f.path), "kind": field_kind(f)} for f in contract.walk()]
            for family, contract in sorted(contracts.items())
        },
        sort_keys=True,
    )


def leaf_index(contract: Contract, path: tuple[str, ...]) -> int:
    """The bit of a declared leaf in the inspector's words."""
    return [f.path for f in contract.leaves()].index(path)


def leaf_bit(words: Column, index: int) -> Column:
    """True where bit `index` of `words` (an array<bigint>) is set; null where it is null."""
    bit = 1 << (index % _WORD_BITS)
    if bit >= 1 << (_WORD_BITS - 1):
        bit -= 1 << _WORD_BITS  # the sign bit, as a signed long
    return F.get(words, index // _WORD_BITS).bitwiseAND(F.lit(bit)) != 0


def inspection(contracts: Mapping[str, Contract], family: Column, text: Column) -> Column:
    """The inspector's struct (RecordInspector.RETURN_TYPE) of each record: `text` judged by
    the contract of its `family` (a family without one: only is_object and event_id)."""
    from pyspark.sql.classic.column import Column as JvmColumn
    from pyspark.sql.classic.column import _to_java_column, _to_seq

    sc = _active_context()
    udf = _jvm_udf(spec(contracts))
    return JvmColumn(udf.apply(_to_seq(sc, [family, text], _to_java_column)))


def _active_context():
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        raise RuntimeError("the record inspector needs an active SparkContext")
    return sc


@functools.cache
def _jvm_udf(declared: str):
    """The JVM's UserDefinedFunction of an inspector built from `declared`, once per
    declaration (the plan carries it to the executors, spec included)."""
    from py4j.java_gateway import JavaClass

    inspector = _active_context()._jvm.gamelake.jvm.RecordInspector
    if not isinstance(inspector, JavaClass):  # py4j's answer for a class it cannot load
        raise GamelakeError(
            "this Spark session has no gamelake JVM code (gamelake.jvm.RecordInspector)",
            fix="run `make setup`, and build the session with gamelake.spark.build_session "
            "(its spark.jars carry .gamelake/jars/gamelake)",
        )
    return inspector.udf(declared)
