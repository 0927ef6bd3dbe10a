"""What maintenance does to which table: conf/maintenance.yaml's per-table settings, the tables
an operator names, and the vacuum retention Delta deems safe."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gamelake.errors import GamelakeError
from gamelake.ops.retry import Backoff

DELTA_MIN_RETENTION_HOURS = 168


@dataclasses.dataclass(frozen=True)
class TableMaintenance:
    """What maintenance does to one table."""

    name: str  # <layer>.<table>
    optimize: bool = True
    zorder: tuple[str, ...] = ()
    vacuum_retain_hours: float = DELTA_MIN_RETENTION_HOURS
    min_files: int = 2


@dataclasses.dataclass(frozen=True)
class MaintenanceConf:
    defaults: TableMaintenance
    tables: dict[str, TableMaintenance]
    backoff: Backoff

    def for_table(self, name: str) -> TableMaintenance:
        return self.tables.get(name) or dataclasses.replace(self.defaults, name=name)

    def zorder_of(self, layer: str) -> dict[str, tuple[str, ...]]:
        """The Z-order columns of each table of `layer` that names some, by table name."""
        prefix = f"{layer}."
        return {
            name.removeprefix(prefix): t.zorder
            for name, t in self.tables.items()
            if name.startswith(prefix) and t.zorder
        }

    def retain_hours(self, name: str, given: float | None = None) -> float:
        """The vacuum retention of a table: the one given (--retain-hours), else its conf."""
        return self.for_table(name).vacuum_retain_hours if given is None else given


_KEYS = {f.name for f in dataclasses.fields(TableMaintenance)} - {"name"}


def _table_entry(name: str, raw: Mapping[str, Any], base: TableMaintenance) -> TableMaintenance:
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise GamelakeError(
            f"conf/maintenance.yaml: {name} has unknown keys {unknown}",
            fix=f"use {sorted(_KEYS)}",
        )
    values = {**dataclasses.asdict(base), **raw, "name": name}
    values["zorder"] = tuple(values["zorder"] or ())
    return TableMaintenance(**values)


def parse_maintenance_conf(raw: Mapping[str, Any]) -> MaintenanceConf:
    """Maintenance settings from the parsed YAML: defaults, per-table overrides, retry."""
    defaults = _table_entry("*", raw.get("defaults") or {}, TableMaintenance(name="*"))
    tables = {}
    for name, entry in (raw.get("tables") or {}).items():
        if name.count(".") != 1:
            raise GamelakeError(
                f"conf/maintenance.yaml: table {name!r} is not <layer>.<table>",
                fix="e.g. silver.player_action",
            )
        tables[name] = _table_entry(name, entry or {}, defaults)
    retry = raw.get("retry") or {}
    backoff = Backoff(
        attempts=int(retry.get("attempts", 8)),
        first_s=float(retry.get("first_backoff_s", 0.5)),
        max_s=float(retry.get("max_backoff_s", 15)),
    )
    return MaintenanceConf(defaults, tables, backoff)


def load_maintenance_conf(conf_dir: Path) -> MaintenanceConf:
    """The settings in <conf_dir>/maintenance.yaml (defaults only when the file is absent)."""
    path = conf_dir / "maintenance.yaml"
    return parse_maintenance_conf(yaml.safe_load(path.read_text()) if path.is_file() else {})


def select_tables(found: Iterable[tuple[str, str]], wanted: Sequence[str]) -> list[str]:
    """`<layer>.<table>` names to maintain: every table found, or those asked for (a bare
    layer name selects its tables); unknown names are an error."""
    names = [f"{layer}.{table}" for layer, table in found]
    if not wanted:
        return names
    chosen: list[str] = []
    for w in wanted:
        hits = [n for n in names if n == w or n.split(".")[0] == w]
        if not hits:
            raise GamelakeError(
                f"no Delta table {w!r} in the lake",
                fix=f"choose among {', '.join(names) or '(the lake is empty)'}",
            )
        chosen += [h for h in hits if h not in chosen]
    return chosen


def check_retention(hours: float, force: bool) -> None:
    """Refuse a vacuum retention shorter than Delta's safety minimum unless forced."""
    if hours < 0:
        raise GamelakeError(f"--retain-hours {hours} is negative")
    if hours < DELTA_MIN_RETENTION_HOURS and not force:
        raise GamelakeError(
            f"a retention of {hours:g}h is below Delta's safe minimum of "
            f"{DELTA_MIN_RETENTION_HOURS}h: a stream or reader still on an older version "
            "could lose files it needs",
            fix="keep the default, or pass --force when no stream or query is running",
        )


def check_vacuum_retention(
    conf: MaintenanceConf, names: Iterable[str], given: float | None, force: bool
) -> None:
    """Refuse, before any table is touched, a retention below the minimum for any of them."""
    for name in names:
        check_retention(conf.retain_hours(name, given), force)
