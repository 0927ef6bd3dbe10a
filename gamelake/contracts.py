"""Event contracts: one YAML per family under conf/contracts, and what is derived from them.

A contract declares a family's fields (nested structs, arrays), which are required, their
enums and ranges, the key, event-type and event-time fields, a PII/secret policy per
field, and the fields that recognise a raw payload as the family's (`recognised_by`, see
gamelake/routing.py). Spark schemas (`spark_schema`), JSON Schemas (`json_schema`) and the flattened
silver columns (`leaves`) are all derived here; nothing else declares a family's shape.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gamelake.errors import GamelakeError

SCALAR_TYPES = ("string", "int", "long", "double", "boolean", "json")
TIME_FORMATS = ("epoch_ms", "iso8601", "datetime_micros")
PII_POLICIES = ("keep", "mask", "hash", "drop")
PARSERS = ("xy", "mode_tier")
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_SPEC_KEYS = {
    "type", "required", "enum", "min", "max", "pattern", "pii", "secret", "column", "doc",
    "format", "items", "fields", "parse", "child_table", "scalar_field",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a contract; `path` is its position from the event's top level."""

    name: str
    path: tuple[str, ...]
    type: str  # a SCALAR_TYPES name, decimal(p,s), struct or array
    required: bool = False
    enum: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    pii: str = "keep"
    secret: bool = False
    column: str | None = None
    doc: str = ""
    format: str | None = None
    parse: str | None = None
    child_table: str | None = None
    scalar_field: str | None = None  # json items: which object field a bare scalar item fills
    items: Field | None = None
    fields: tuple[Field, ...] = ()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def silver_column(self) -> str:
        """The column name in silver: the declared `column`, else the field's own name."""
        return self.column or self.name

    @property
    def decimal(self) -> tuple[int, int] | None:
        match = _DECIMAL.match(self.type)
        return (int(match.group(1)), int(match.group(2))) if match else None


@dataclasses.dataclass(frozen=True)
class Contract:
    family: str
    title: str
    seed: str
    schema_version: int
    key: tuple[str, ...]
    event_type_field: tuple[str, ...] | None
    event_type_value: str | None
    event_time_field: tuple[str, ...]
    event_time_fallback: str | None
    fields: tuple[Field, ...]
    # A payload holding all these fields (each with one of its enum values, where it has an
    # enum) is this family's, when nothing else names its family.
    recognised_by: tuple[tuple[str, ...], ...] = ()

    def field(self, path: tuple[str, ...] | str) -> Field:
        """The field at a dotted path (or path tuple)."""
        parts = tuple(path.split(".")) if isinstance(path, str) else path
        for f in self.walk():
            if f.path == parts:
                return f
        raise KeyError(f"{self.family} has no field {'.'.join(parts)}")

    def walk(self) -> Iterator[Field]:
        """Every field, depth first (structs before their children; array items excluded)."""

        def visit(fields: tuple[Field, ...]) -> Iterator[Field]:
            for f in fields:
                yield f
                yield from visit(f.fields)

        return visit(self.fields)

    def leaves(self) -> list[Field]:
        """The non-struct fields: silver's flattened columns (arrays included as one column)."""
        return [f for f in self.walk() if f.type != "struct"]

    def child_arrays(self) -> list[Field]:
        """Array fields normalised into child tables (one row per item)."""
        return [f for f in self.walk() if f.type == "array" and f.child_table]

    def secret_paths(self) -> list[tuple[str, ...]]:
        """Paths of the fields that must never land anywhere."""
        return [f.path for f in self.walk() if f.secret]

    @property
    def event_time(self) -> Field:
        return self.field(self.event_time_field)

    def spark_schema(self):
        """The Spark StructType that parses this family's JSON (pyspark.sql.types)."""
        from pyspark.sql import types as T

        def spark_type(f: Field) -> T.DataType:
            if f.type == "struct":
                return T.StructType([T.StructField(c.name, spark_type(c), True) for c in f.fields])
            if f.type == "array":
                assert f.items is not None
                return T.ArrayType(spark_type(f.items), containsNull=True)
            if f.decimal:
                return T.DecimalType(*f.decimal)
            return {
                "string": T.StringType(),
                # JSON of any shape: Spark keeps an object or array as its JSON text.
                "json": T.StringType(),
                "int": T.IntegerType(),
                "long": T.LongType(),
                "double": T.DoubleType(),
                "boolean": T.BooleanType(),
            }[f.type]

        # Every field nullable: a missing required field is a contract violation the
        # row-level gate reports, not a parse failure that loses the record.
        return T.StructType([T.StructField(f.name, spark_type(f), True) for f in self.fields])

    def json_schema(self) -> dict[str, Any]:
        """A JSON Schema (draft 2020-12) that valid events of this family satisfy."""

        def schema(f: Field) -> dict[str, Any]:
            out: dict[str, Any]
            if f.type == "struct":
                out = {
                    "type": "object",
                    "properties": {c.name: schema(c) for c in f.fields},
                    "required": [c.name for c in f.fields if c.required],
                }
            elif f.type == "array":
                assert f.items is not None
                out = {"type": "array", "items": schema(f.items)}
            elif f.type == "json":
                out = {}
            elif f.decimal or f.type == "double":
                out = {"type": "number"}
            else:
                json_types = {"string": "string", "int": "integer", "long": "integer"}
                out = {"type": json_types.get(f.type, "boolean")}
            if f.enum is not None:
                out["enum"] = list(f.enum)
            if f.min is not None:
                out["minimum"] = f.min
            if f.max is not None:
                out["maximum"] = f.max
            if f.pattern is not None:
                out["pattern"] = f.pattern
            if f.doc:
                out["description"] = f.doc
            if not f.required and "type" in out:
                out["type"] = [out["type"], "null"]
                if "enum" in out:
                    out["enum"] = [*out["enum"], None]
            return out

        root = Field(name=self.family, path=(), type="struct", required=True, fields=self.fields)
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{self.family} v{self.schema_version}: {self.title}",
            **schema(root),
        }


def _parse_field(name: str, spec: Any, parent: tuple[str, ...], where: str) -> Field:
    if not isinstance(spec, dict):
        raise GamelakeError(f"{where}: field {name!r} must be a mapping, got {spec!r}")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise GamelakeError(f"{where}: field {name!r} has unknown keys {sorted(unknown)}")
    path = (*parent, name)
    ftype = str(spec.get("type", ""))
    if ftype not in (*SCALAR_TYPES, "struct", "array") and not _DECIMAL.match(ftype):
        raise GamelakeError(f"{where}: field {name!r} has unknown type {ftype!r}")
    if spec.get("fields") and ftype not in ("struct", "json"):
        raise GamelakeError(f"{where}: only struct and json fields declare `fields` ({name!r})")
    if ftype == "struct" and not spec.get("fields"):
        raise GamelakeError(f"{where}: struct {name!r} declares no fields")
    if ftype == "array" and "items" not in spec:
        raise GamelakeError(f"{where}: array {name!r} declares no items")
    if spec.get("format") not in (None, *TIME_FORMATS):
        raise GamelakeError(f"{where}: field {name!r} has unknown format {spec['format']!r}")
    if spec.get("pii", "keep") not in PII_POLICIES:
        raise GamelakeError(f"{where}: field {name!r} has unknown pii policy {spec['pii']!r}")
    if spec.get("parse") not in (None, *PARSERS):
        raise GamelakeError(f"{where}: field {name!r} has unknown parser {spec['parse']!r}")
    if spec.get("pattern") is not None:
        re.compile(spec["pattern"])
    return Field(
        name=name,
        path=path,
        type=ftype,
        required=bool(spec.get("required", False)),
        enum=tuple(spec["enum"]) if "enum" in spec else None,
        min=spec.get("min"),
        max=spec.get("max"),
        pattern=spec.get("pattern"),
        pii="drop" if spec.get("secret") else spec.get("pii", "keep"),
        secret=bool(spec.get("secret", False)),
        column=spec.get("column"),
        doc=spec.get("doc", ""),
        format=spec.get("format"),
        parse=spec.get("parse"),
        child_table=spec.get("child_table"),
        scalar_field=spec.get("scalar_field"),
        items=_parse_field("item", spec["items"], path, where) if ftype == "array" else None,
        fields=tuple(
            _parse_field(n, s, path, where) for n, s in (spec.get("fields") or {}).items()
        ),
    )


def parse_contract(raw: dict[str, Any], envelope: dict[str, Any], where: str) -> Contract:
    """A Contract from a family's YAML mapping plus the shared envelope fields."""
    try:
        family = raw["family"]
        fields_raw = dict(raw["fields"])
        for name, spec in envelope.items():
            fields_raw.setdefault(name, spec)
        fields = tuple(_parse_field(n, s, (), where) for n, s in fields_raw.items())
        event_type = raw["event_type"]
        contract = Contract(
            family=family,
            title=raw.get("title", family),
            seed=str(raw.get("seed", "")),
            schema_version=int(raw["schema_version"]),
            key=tuple(raw["key"].split(".")),
            event_type_field=tuple(event_type["field"].split("."))
            if "field" in event_type
            else None,
            event_type_value=event_type.get("value"),
            event_time_field=tuple(raw["event_time"]["field"].split(".")),
            event_time_fallback=raw["event_time"].get("fallback"),
            fields=fields,
            recognised_by=tuple(tuple(p.split(".")) for p in raw.get("recognised_by", ())),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise GamelakeError(f"{where}: missing or malformed {exc}") from exc
    # The key, event type and event time must name declared fields.
    for what, path in (
        ("key", contract.key),
        ("event_type", contract.event_type_field),
        ("event_time", contract.event_time_field),
        *(("recognised_by", p) for p in contract.recognised_by),
    ):
        if path is not None:
            try:
                contract.field(path)
            except KeyError as exc:
                raise GamelakeError(f"{where}: {what} names an undeclared field: {exc}") from exc
    if (contract.event_type_field is None) == (contract.event_type_value is None):
        raise GamelakeError(f"{where}: event_type needs exactly one of `field` or `value`")
    if contract.event_time.format not in TIME_FORMATS:
        raise GamelakeError(f"{where}: the event_time field needs a time `format`")
    columns = [f.silver_column for f in contract.leaves()]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise GamelakeError(f"{where}: silver columns collide: {duplicated} (set `column:`)")
    return contract


@cache
def load_contracts(contracts_dir: Path) -> dict[str, Contract]:
    """Every family's contract in `contracts_dir`, by family name."""
    envelope_file = contracts_dir / "_envelope.yaml"
    envelope = (
        yaml.safe_load(envelope_file.read_text())["fields"] if envelope_file.is_file() else {}
    )
    contracts = {}
    for path in sorted(contracts_dir.glob("[!_]*.yaml")):
        contract = parse_contract(yaml.safe_load(path.read_text()), envelope, str(path))
        if contract.family != path.stem:
            raise GamelakeError(f"{path}: family {contract.family!r} must match the file name")
        contracts[contract.family] = contract
    if not contracts:
        raise GamelakeError(f"no contracts in {contracts_dir}")
    return contracts


def get_value(event: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in a parsed JSON event, or None where any step is missing."""
    for part in path:
        if not isinstance(event, dict):
            return None
        event = event.get(part)
    return event
