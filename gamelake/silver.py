"""Silver: bronze records parsed by their family's contract into flat, typed rows, or quarantined.

Everything here is derived from the contracts; no column list is written by hand:
- `with_event_id` gives every bronze record a stable id before deduplication;
- `parse_family` parses one family's records and sets `_reasons` (empty when valid);
- `to_silver` / `to_quarantine` / `to_children` shape the three kinds of output rows.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from gamelake.columns import empty_array, values_where
from gamelake.contracts import Contract, Field
from gamelake.inspector import field_kind, inspection, leaf_bit, leaf_index

SILVER_PARTITION_BY = ("event_type",)
QUARANTINE_TABLE = "quarantine"
QUARANTINE_PARTITION_BY = ("family",)
# Min/max statistics only where a table's files are ordered. A stream appends in time order,
# so a file's times are narrow and let readers skip it; ids and text spread over every file,
# so their statistics skip nothing until maintenance Z-orders the files by them (Delta
# refuses to Z-order by a column without statistics), yet collecting every column's cost
# ~20 % of a batch's writes (docs/hot-path.md).
SILVER_STATS_COLUMNS = ("event_ts", "ingested_at")
QUARANTINE_STATS_COLUMNS = ("ingested_at", "quarantined_at")
DATETIME_MICROS = "yyyy-MM-dd HH:mm:ss.SSSSSS"
# Strict JSON (RFC 8259): Spark's reader otherwise accepts single quotes and NaN.
JSON_OPTIONS = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}
_MEMBER_MAP = "map<string,variant>"
_PARSED = "_e"
# What the record inspector (gamelake.inspector) found in the record's text: one strict JSON
# pass per row on the JVM serves every rule that needs the JSON itself rather than its typed
# parse (strictness, kinds, presence, drift, identity). It replaced a variant of every record
# with a struct of variants per object level, which cost ~4x Spark's typed parse.
_INSPECTED = "_i"
# The record's JSON object as a variant, parsed only for the rows whose rescued fields need
# its values (null on the others).
_VALUES = "_v"


_T = TypeVar("_T")


def per_contract(build: Callable[[Contract], _T]) -> Callable[[Contract], _T]:
    """`build(contract)` computed once per contract object and reused.

    Building a family's Column expressions is hundreds of py4j calls (~1 s for game_api's
    37 rules, measured), paid again on every micro-batch although it depends on the contract
    alone; a Column is an unresolved expression that any DataFrame can reuse.
    Callers must not mutate what it returns.
    """
    cache: dict[int, tuple[Contract, _T]] = {}
    lock = threading.Lock()

    @functools.wraps(build)
    def cached(contract: Contract) -> _T:
        hit = cache.get(id(contract))
        # The contract is kept in the entry, so its id cannot be reused by another object.
        if hit is None or hit[0] is not contract:
            with lock:
                hit = cache[id(contract)] = (contract, build(contract))
        return hit[1]

    return cached


@dataclasses.dataclass(frozen=True)
class Rule:
    """A row-level check: `violated` is true for a bad row; `message` says why, for people."""

    name: str
    violated: Column
    message: Column


def _json_path(path: Sequence[str]) -> str:
    assert not any("'" in name for name in path), path
    return "$" + "".join(f"['{name}']" for name in path)


def _raw(path: Sequence[str]) -> Column:
    """A field's value as JSON text (strings unquoted), null when absent or JSON null.

    Read from the text, for the messages of failing rows only: a path lookup compiles to
    less than a variant of the record (docs/hot-path.md)."""
    return F.get_json_object(F.col("_text"), _json_path(path))


def _inspected(contract: Contract, what: str, path: Sequence[str]) -> Column:
    """The inspector's `what` bit (present, wrong_kind) of a declared leaf."""
    return leaf_bit(F.col(_INSPECTED).getField(what), leaf_index(contract, tuple(path)))


def _parsed(path: Sequence[str]) -> Column:
    return (
        F.col(_PARSED).getField(path[0])
        if len(path) == 1
        else _parsed(path[:-1]).getField(path[-1])
    )


def raw_text(value: Column) -> Column:
    """The record's bytes as text (the JSON decoder's input)."""
    return value.cast("string")


def _nested_object(member: Column) -> Column:
    """The members of a variant that holds a JSON object, as a map of variants, else null."""
    return F.try_variant_get(member, "$", _MEMBER_MAP)


def _is_object(value: Column) -> Column:
    """True where a variant holds a JSON object (an empty struct reads any object, and only one)."""
    return F.try_variant_get(value, "$", "struct<>").isNotNull()


# Spark's JSON readers stop after the first value and ignore whatever follows it
# ('{"a":1}}' parses), so the text is read as the array [text, END]: trailing content either
# breaks the array or adds elements, and only a lone value followed by END is strict JSON.
_END = "gamelake:end-of-record"


def json_object(text: Column) -> Column:
    """A strict JSON object (nothing after it) as a variant, else null."""
    items = F.from_json(
        F.concat(F.lit("["), text, F.lit(f',"{_END}"]')), "array<variant>", JSON_OPTIONS
    )
    alone = (F.size(items) == 2) & (F.get(items, 1).cast("string") == F.lit(_END))
    first = F.get(items, 0)
    return F.when(alone & _is_object(first), first)


DEDUP_KEY = "_dedup_key"
RESCUED = "_rescued_data"


def with_event_id(bronze: DataFrame, contracts: Mapping[str, Contract]) -> DataFrame:
    """Bronze rows plus `event_id` and the key deduplication uses (`_dedup_key`).

    event_id is the producer's id when it sent a string one, else a hash of family and
    payload: an exact re-send of an id-less event is the same fact. A payload that is not
    a JSON object has no identity at all (two identical "502 Bad Gateway" bodies may be two
    failures), so it is never deduplicated: its key is its place in Kafka.
    """
    # The inspection travels on to silver, so each record's text is inspected once.
    rows = with_inspection(bronze, contracts)
    declared = F.col(_INSPECTED).getField("event_id")
    derived = F.sha2(F.concat(F.col("family").cast("binary"), F.lit(b"\x00"), F.col("value")), 256)
    event_id = F.coalesce(declared, derived)
    kafka_place = F.concat_ws("/", "topic", "kafka_partition", "kafka_offset")
    is_object = F.col(_INSPECTED).getField("is_object")
    return rows.withColumns(
        {"event_id": event_id, DEDUP_KEY: F.when(is_object, event_id).otherwise(kafka_place)}
    )


def with_inspection(rows: DataFrame, contracts: Mapping[str, Contract]) -> DataFrame:
    """Rows plus `_i`, the record inspector's findings on each record's text
    (gamelake.inspector), each judged by its family's contract."""
    if _INSPECTED in rows.columns:
        return rows
    return rows.withColumn(
        _INSPECTED, inspection(contracts, F.col("family"), raw_text(F.col("value")))
    )


def parse_time(col: Column, fmt: str) -> Column:
    """A timestamp from epoch ms, ISO-8601 text or "YYYY-MM-DD HH:MM:SS.ffffff" text (UTC)."""
    if fmt == "epoch_ms":
        return F.timestamp_millis(col)
    if fmt == "iso8601":
        return F.try_to_timestamp(col)
    return F.try_to_timestamp(col, F.lit(DATETIME_MICROS))


def _field_rules(contract: Contract, f: Field) -> list[Rule]:
    """Contract rules for one leaf field: required, enum, range, pattern, time format."""
    value = _parsed(f.path)
    raw = _raw(f.path)
    rules = []
    if f.required:
        rules.append(
            Rule("contract.required", value.isNull(), F.lit(f"missing required field {f.dotted}"))
        )
    # A value present in the JSON but null after parsing, or of another JSON kind, had a type
    # the contract does not allow.
    if f.type != "json":
        wrong = value.isNull()
        if field_kind(f) != "any":
            wrong = wrong | _inspected(contract, "wrong_kind", f.path)
        rules.append(
            Rule(
                "contract.type",
                _inspected(contract, "present", f.path) & wrong,
                F.concat(F.lit(f"{f.dotted} is not a {f.type}: "), F.substring(raw, 1, 80)),
            )
        )
    if f.enum is not None:
        rules.append(
            Rule(
                "contract.enum",
                value.isNotNull() & ~value.isin(list(f.enum)),
                F.concat(
                    F.lit(f"{f.dotted} = "), value.cast("string"), F.lit(f" not in {list(f.enum)}")
                ),
            )
        )
    if f.min is not None or f.max is not None:
        lo = value < F.lit(f.min) if f.min is not None else F.lit(False)
        hi = value > F.lit(f.max) if f.max is not None else F.lit(False)
        rules.append(
            Rule(
                "contract.range",
                value.isNotNull() & (lo | hi),
                F.concat(
                    F.lit(f"{f.dotted} = "),
                    value.cast("string"),
                    F.lit(f" outside [{f.min if f.min is not None else '-inf'}, "
                          f"{f.max if f.max is not None else 'inf'}]"),
                ),
            )
        )  # fmt: skip
    if f.pattern is not None:
        rules.append(
            Rule(
                "contract.pattern",
                value.isNotNull() & ~value.rlike(f.pattern),
                F.concat(F.lit(f"{f.dotted} = "), value, F.lit(f" does not match {f.pattern}")),
            )
        )
    if f.format is not None and f.type == "string":
        rules.append(
            Rule(
                "contract.time_format",
                value.isNotNull() & parse_time(value, f.format).isNull(),
                F.concat(F.lit(f"{f.dotted} = "), value, F.lit(f" is not a {f.format} time")),
            )
        )
    return rules


@per_contract
def contract_rules(contract: Contract) -> list[Rule]:
    """Every row-level rule of a contract, after the JSON has parsed as an object."""
    return [rule for f in contract.leaves() for rule in _field_rules(contract, f)]


@functools.cache
def parse_rules() -> list[Rule]:
    """Rules that stop a record before its fields can be checked."""
    text = F.col("_text")
    not_object = ~F.col(_INSPECTED).getField("is_object")
    # Lenient JSON that is not an object: an array, a scalar, null. Asked of the records that
    # are not an object only: two rules share it, so subexpression elimination computes it
    # once for every row, and a `$` lookup copies the whole record (~11 % of a warm parse,
    # JFR; docs/hot-path.md).
    other_json = F.when(
        not_object, F.get_json_object(text, "$").isNotNull() | (F.trim(text) == "null")
    )
    looks_like_object = F.ltrim(text).startswith("{")
    return [
        Rule("parse.invalid_utf8", ~F.is_valid_utf8(text), F.lit("payload is not valid UTF-8")),
        Rule(
            "parse.not_json",
            not_object & (looks_like_object | ~other_json),
            F.concat(F.lit("payload is not (strict) JSON: "), F.substring(text, 1, 80)),
        ),
        Rule(
            "parse.not_object",
            not_object & other_json & ~looks_like_object,
            F.concat(F.lit("payload is not a JSON object: "), F.substring(text, 1, 80)),
        ),
    ]


def _first_failing(rules: list[Rule]) -> tuple[Column, Column]:
    """(rule names, messages) of the violated rules, as arrays (messages are worth building
    only where names is not empty: see `_reason_columns`)."""
    names = values_where([(r.violated, F.lit(r.name)) for r in rules])
    messages = values_where([(r.violated, r.message) for r in rules])
    return names, messages


def _known_keys(fields: Sequence[Field]) -> Column:
    return F.array(*[F.lit(f.name) for f in fields])


def _not_in(known: Column):
    return lambda key, _value: ~F.array_contains(known, key)


def _prefixed(prefix: str):
    return lambda key, _value: F.concat(F.lit(prefix), key)


def _object_levels(contract: Contract) -> list[tuple[tuple[str, ...], Sequence[Field]]]:
    """(path, declared fields) of the top level and every nested struct, parents first."""
    levels: list[tuple[tuple[str, ...], Sequence[Field]]] = [((), contract.fields)]
    return levels + [(f.path, f.fields) for f in contract.walk() if f.type == "struct"]


@per_contract
def rescued_data(contract: Contract) -> Column:
    """JSON of the fields the contract does not declare ({"path.key": value}), or null.

    Schema drift is kept, not dropped: new fields travel in this column until the
    contract learns them.
    """
    maps = []
    for path, fields in _object_levels(contract):
        record = F.col(_VALUES)
        level = F.try_variant_get(record, _json_path(path), "variant") if path else record
        unknown = F.map_filter(_nested_object(level), _not_in(_known_keys(fields)))
        as_text = F.transform_values(unknown, lambda _key, value: value.cast("string"))
        maps.append(F.transform_keys(as_text, _prefixed(".".join(path) + "." if path else "")))
    merged = F.map_concat(*[F.coalesce(m, F.create_map().cast("map<string,string>")) for m in maps])
    # The higher-order functions above (interpreted: gamelake.columns) run only for the rows
    # the inspector found drifting.
    return F.when(F.col(_INSPECTED).getField("drift"), F.to_json(merged))


def parse_family(bronze: DataFrame, contract: Contract, partitions: int | None = None) -> DataFrame:
    """One family's bronze rows (with event_id), parsed into `_e`, with `_rules`/`_reasons`
    (in `partitions` partitions when given).

    A row with an empty `_reasons` array satisfies its contract.
    """
    c = _parse_columns(contract)
    of_family = bronze.where(c.of_family)
    if partitions is not None:
        # Below the parse, so that its projections run in as many tasks.
        of_family = of_family.coalesce(partitions)
    rows = with_inspection(of_family, {contract.family: contract})
    # `_rules` first, in a projection of its own: `_reasons` then builds the messages of the
    # failing rows only, instead of evaluating every rule a second time on every row. The
    # record's variant is built in the next one, for the drifting rows only.
    # Rescued data is built here, so that callers may drop the scratch columns before
    # caching the parsed rows: see `scratch_columns`.
    return (
        rows.withColumn("_text", c.text)
        .withColumn(_PARSED, c.parsed)
        .withColumn("_rules", c.rules)
        .withColumn(_VALUES, c.values)
        .withColumns({"_reasons": c.reasons, RESCUED: c.rescued})
    )


@dataclasses.dataclass(frozen=True)
class _ParseColumns:
    """The columns `parse_family` adds, in the order it adds them."""

    of_family: Column
    text: Column
    parsed: Column
    rules: Column
    values: Column
    reasons: Column
    rescued: Column


@per_contract
def _parse_columns(contract: Contract) -> _ParseColumns:
    failed, reasons = _reason_columns(contract)
    drifted = F.col(_INSPECTED).getField("drift")
    return _ParseColumns(
        of_family=F.col("family") == contract.family,
        text=raw_text(F.col("value")),
        parsed=F.from_json("_text", contract.spark_schema(), JSON_OPTIONS),
        rules=failed,
        values=F.when(drifted, json_object(F.col("_text"))),
        reasons=reasons,
        rescued=rescued_data(contract),
    )


def scratch_columns() -> list[str]:
    """Columns of `parse_family` output that nothing after it reads: the text, the
    inspector's findings and the record's values (spent once the reasons and rescued data
    are known), the dedup key."""
    return ["_text", DEDUP_KEY, _INSPECTED, _VALUES]


@per_contract
def _reason_columns(contract: Contract) -> tuple[Column, Column]:
    """`_rules` and `_reasons` of parse_family: the failed rules' names, and their messages
    (read from `_rules`, so they are built for failing rows only)."""
    p_names, p_messages = _first_failing(parse_rules())
    c_names, c_messages = _first_failing(contract_rules(contract))
    # Contract rules mean nothing for a payload that did not parse: report the parse rule only.
    unparsed = F.size(p_names) > 0
    return (
        F.when(unparsed, p_names).otherwise(c_names),
        F.when(F.size("_rules") == 0, empty_array())
        .when(unparsed, p_messages)
        .otherwise(c_messages),
    )


def _mask(col: Column) -> Column:
    """IPv4 -> its /24 network; anything else -> first two characters and stars."""
    ipv4 = F.regexp_extract(col, r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$", 1)
    return F.when(ipv4 != "", F.concat(ipv4, F.lit(".0/24"))).otherwise(
        F.concat(F.substring(col, 1, 2), F.lit("***"))
    )


def apply_pii(col: Column, policy: str) -> Column | None:
    """The column as analysts may see it under `policy`; None when it must not land."""
    if policy == "drop":
        return None
    if policy == "hash":
        return F.sha2(col.cast("string"), 256)
    if policy == "mask":
        return _mask(col.cast("string"))
    return col


def _leaf_columns(f: Field) -> dict[str, Column]:
    """Silver columns for one leaf field: cast, parsed, PII applied (empty when dropped)."""
    value = _parsed(f.path)
    if f.type == "array":
        # The items go to a child table; the parent keeps how many there were.
        return {f"{f.silver_column}_count": F.coalesce(F.size(value), F.lit(0)).cast("int")}
    if f.format is not None:
        value = parse_time(value, f.format)
    if f.parse == "xy":
        xy = F.regexp_extract_all(value, F.lit(r"(-?\d+)"), 1)
        return {"coord_x": xy[0].cast("int"), "coord_y": xy[1].cast("int")}
    columns = {}
    if f.parse == "mode_tier":
        parts = F.split(value, r"\s*--\s*")
        columns = {"room_mode": F.trim(parts[0]), "room_tier": F.trim(parts[1])}
    shown = apply_pii(value, f.pii)
    if shown is not None:
        columns = {f.silver_column: shown, **columns}
    return columns


@per_contract
def silver_columns(contract: Contract) -> dict[str, Column]:
    """Every silver column of a family, in order: envelope, contract leaves, lineage."""
    event_time = contract.event_time
    event_ts = parse_time(_parsed(event_time.path), event_time.format)
    if contract.event_time_fallback:
        event_ts = F.coalesce(event_ts, F.col(contract.event_time_fallback))
    event_type = (
        _parsed(contract.event_type_field)
        if contract.event_type_field
        else F.lit(contract.event_type_value)
    )
    envelope = {
        "event_id": F.col("event_id"),
        "event_type": event_type.cast("string"),
        "event_ts": event_ts,
        "family": F.lit(contract.family),
        "source": F.coalesce(_parsed(("source",)), F.col("topic")),
        "schema_version": F.coalesce(_parsed(("schema_version",)), F.lit(contract.schema_version)),
    }
    columns = dict(envelope)
    for f in contract.leaves():
        for name, col in _leaf_columns(f).items():
            columns.setdefault(name, col)  # envelope columns win (event_type, event_id...)
    columns.update(
        {
            RESCUED: F.col(RESCUED),
            "kafka_partition": F.col("kafka_partition"),
            "kafka_offset": F.col("kafka_offset"),
            "ingested_at": F.col("ingested_at"),
        }
    )
    return columns


def to_silver(parsed: DataFrame, contract: Contract) -> DataFrame:
    """The valid rows of `parse_family` output as the family's silver rows."""
    return parsed.where(is_valid()).select(*_silver_select(contract))


@per_contract
def _silver_select(contract: Contract) -> list[Column]:
    return [col.alias(name) for name, col in silver_columns(contract).items()]


@functools.cache
def is_valid() -> Column:
    """True for a `parse_family` row that met its contract (and its gate's drop rules)."""
    return F.size("_reasons") == 0


def _quarantine_rows(rows: DataFrame, rules: Column, reason: Column) -> DataFrame:
    """Quarantine rows: the raw payload, its Kafka place, the failed rules and why
    (`stamp_quarantine` adds when)."""
    return rows.select(*_quarantine_columns(rules, reason))


def _quarantine_columns(rules: Column, reason: Column) -> list[Column]:
    return [
        F.col("event_id"),
        F.col("family"),
        F.col("value").alias("raw_value"),
        F.col("topic"),
        F.col("kafka_partition"),
        F.col("kafka_offset"),
        rules.alias("rules"),
        reason.alias("reason"),
        F.col("ingested_at"),
    ]


def stamp_quarantine(rows: DataFrame) -> DataFrame:
    """Quarantine rows with `quarantined_at`, the time of the query that writes them.

    Stamp the batch's rejects once they are together, above a stage boundary (a coalesce):
    the time is a literal in the generated code, so each family's rows stamped on their own
    were ~18 classes compiled anew in every micro-batch.
    """
    return rows.withColumn("quarantined_at", F.current_timestamp())


def to_quarantine(parsed: DataFrame) -> DataFrame:
    """The rejected rows of `parse_family` output, with the raw payload and every reason
    (unstamped: see `stamp_quarantine`)."""
    rejected, columns = _rejected()
    return parsed.where(rejected).select(*columns)


@functools.cache
def _rejected() -> tuple[Column, list[Column]]:
    """(the condition, the quarantine columns) of `to_quarantine`."""
    return F.size("_reasons") > 0, _quarantine_columns(
        F.col("_rules"), F.array_join("_reasons", "; ")
    )


def unknown_family_quarantine(
    bronze: DataFrame, families: list[str], rejects_family: str
) -> DataFrame:
    """Quarantine rows for records whose topic maps to no contract (nothing is dropped).

    The rejects topic's records keep their reason, prefixed by who rejected them (the
    collector, or `produce` as its record's origin says); anything else (an unrouted replay,
    a stray topic) is quarantined as an unknown family.
    """
    from_collector = F.col("family") == rejects_family
    text = raw_text(F.col("value"))
    collector_reason = F.coalesce(
        F.get_json_object(text, "$.reason"), F.lit("rejected by the collector")
    )
    rejected_by = F.coalesce(F.get_json_object(text, "$.origin.command"), F.lit("collector"))
    rule = F.when(from_collector, F.lit("collector.rejected")).otherwise(
        F.lit("parse.unknown_family")
    )
    reason = F.when(from_collector, F.concat(rejected_by, F.lit(": "), collector_reason)).otherwise(
        F.concat(F.lit("no contract for family "), F.col("family"))
    )
    return _quarantine_rows(bronze.where(~F.col("family").isin(families)), F.array(rule), reason)


def to_tables(parsed: DataFrame, contract: Contract) -> dict[str, DataFrame]:
    """The valid rows of `parse_family` output by silver table: the family's, then its
    child tables'."""
    return {contract.family: to_silver(parsed, contract), **to_children(parsed, contract)}


def partition_columns(table: str, contract: Contract) -> tuple[str, ...]:
    """The partition columns of a silver table of `contract`: its own table by event type,
    its child tables (small, keyed by event id) unpartitioned."""
    return SILVER_PARTITION_BY if table == contract.family else ()


def stats_properties(columns: tuple[str, ...]) -> dict[str, str]:
    """Delta table properties that keep a new table's file statistics to `columns` (none:
    row counts only)."""
    if not columns:
        return {"delta.dataSkippingNumIndexedCols": "0"}
    return {"delta.dataSkippingStatsColumns": ",".join(columns)}


def table_properties(
    table: str, contract: Contract, zorder: Mapping[str, Sequence[str]] | None = None
) -> dict[str, str]:
    """The Delta properties a silver table of `contract` is created with: statistics on its
    times and on the columns maintenance Z-orders it by (`zorder`, by silver table); a child
    table (keyed by event id, no times) on its Z-order columns only."""
    times = SILVER_STATS_COLUMNS if table == contract.family else ()
    ordered = (zorder or {}).get(table, ())
    return stats_properties(tuple(dict.fromkeys([*times, *ordered])))


def to_children(parsed: DataFrame, contract: Contract) -> dict[str, DataFrame]:
    """Child rows of each array field with a child table: one row per non-null item."""
    valid = parsed.where(is_valid())
    return {
        table: valid.select(*exploded).where(present).select(*columns)
        for table, exploded, present, columns in _child_columns(contract)
    }


@per_contract
def _child_columns(
    contract: Contract,
) -> list[tuple[str, list[Column], Column, list[Column]]]:
    """Per child table: the columns exploding its array, the condition keeping its items,
    then the child row's columns."""
    key = contract.field(contract.key).silver_column
    plans = []
    for arr in contract.child_arrays():
        item = arr.items
        assert item is not None
        item_schema = T.StructType(
            [T.StructField(c.name, T.StringType(), True) for c in item.fields]
        )
        exploded = [
            F.col("event_id"),
            contract_key_column(contract).alias(key),
            F.posexplode(_parsed(arr.path)).alias("position", "_item"),
        ]
        is_object = F.ltrim(F.col("_item")).startswith("{")
        obj = F.from_json(F.col("_item"), item_schema)
        columns: list[Column] = [F.col("event_id"), F.col(key), F.col("position")]
        for c in item.fields:
            scalar = (
                F.when(~is_object, F.col("_item")) if c.name == item.scalar_field else F.lit(None)
            )
            value = F.when(is_object, obj.getField(c.name)).otherwise(scalar)
            if c.format is not None:
                value = parse_time(value, c.format)
            elif c.type in ("int", "long", "double"):
                value = value.cast(c.type)
            columns.append(value.alias(c.silver_column))
        columns.append(F.col("_item").alias("raw_item"))
        plans.append((arr.child_table, exploded, F.col("_item").isNotNull(), columns))
    return plans


def contract_key_column(contract: Contract) -> Column:
    return _parsed(contract.key)
