"""Analyst helpers for notebooks and the dashboard: Trino answers as pandas DataFrames.

They read the lake through Trino only (never Spark, never the pipeline's code), as the
read-only `analyst` user by default, and ask the business questions of sql/queries by name
(gamelake.queries), so a notebook shows the same numbers as `gamelake query`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from gamelake.config import DEFAULT_ENV, project_root
from gamelake.errors import GamelakeError

ANALYST_USER = "analyst"
# The layers an analyst may read (conf/trino/access.yaml says the same to Trino).
ANALYST_SCHEMAS = ("silver", "gold", "ops")
ENV_DEFAULTS = {
    "GAMELAKE_TRINO_HOST": "127.0.0.1",
    "GAMELAKE_TRINO_PORT": "8080",
    "GAMELAKE_TRINO_CATALOG": "delta",
    "GAMELAKE_TRINO_USER": ANALYST_USER,
}


def auth_dir_for(env_name: str | None = None) -> str:
    """The folder of the generated Trino passwords and certificate of a profile (default:
    local), where `gamelake up` wrote them."""
    from gamelake.config import load_settings

    return str(load_settings(env_name or DEFAULT_ENV).trino.auth_dir)


@dataclasses.dataclass(frozen=True)
class Lake:
    """Where an analyst reads: a Trino server, the lake's catalog, and who asks."""

    host: str
    port: int
    catalog: str
    user: str = ANALYST_USER
    # The user's generated password and Trino's certificate (default: the local profile's).
    auth_dir: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Lake:
        """The lake named by GAMELAKE_TRINO_* in `env` (an entry point passes os.environ);
        passwords from GAMELAKE_TRINO_AUTH_DIR, else from the GAMELAKE_ENV profile's folder."""
        v = {k: env.get(k) or d for k, d in ENV_DEFAULTS.items()}
        return cls(
            v["GAMELAKE_TRINO_HOST"],
            int(v["GAMELAKE_TRINO_PORT"]),
            v["GAMELAKE_TRINO_CATALOG"],
            v["GAMELAKE_TRINO_USER"],
            env.get("GAMELAKE_TRINO_AUTH_DIR") or auth_dir_for(env.get("GAMELAKE_ENV")),
        )


def connect(lake: Lake):
    """A DB-API connection on the lake's catalog, so `gold.x` means <catalog>.gold.x, logged
    in with the user's generated password over TLS."""
    import trino

    from gamelake.runtime.trino_auth import client_kwargs

    return trino.dbapi.connect(
        host=lake.host,
        port=lake.port,
        catalog=lake.catalog,
        **client_kwargs(Path(lake.auth_dir or auth_dir_for()), lake.user),
    )


def frame(conn, sql: str):
    """The rows of one statement as a pandas DataFrame (column names from Trino).

    A date or timestamp Python cannot hold (say year 12345, from a bad event time) becomes
    NaT with a printed warning instead of failing the whole answer: analysts still see the
    rest, and the data-quality notebook shows where such values come from.
    """
    import pandas as pd
    from trino.exceptions import TrinoDataError, TrinoQueryError

    cur = conn.cursor()
    try:
        cur.execute(sql)
        rows = cur.fetchall()
    except TrinoQueryError as exc:
        raise GamelakeError(f"Trino rejected the query: {exc.message}") from exc
    except TrinoDataError:
        return _frame_as_text(conn, sql)
    return pd.DataFrame(rows, columns=[d[0] for d in cur.description or []])


def _frame_as_text(conn, sql: str):
    """`frame` through the client's raw values, dates and times parsed leniently (NaT)."""
    import pandas as pd

    from gamelake.runtime.trino_auth import connection_like

    raw = connection_like(conn, legacy_primitive_types=True).cursor()
    raw.execute(sql)
    rows = raw.fetchall()
    df = pd.DataFrame(rows, columns=[d[0] for d in raw.description or []])
    for name, type_code, *_ in raw.description or []:
        if type_code.startswith(("date", "timestamp")):
            text = df[name].astype("string").str.removesuffix(" UTC")
            parsed = pd.to_datetime(text, errors="coerce", utc=type_code.endswith("zone"))
            bad = int((parsed.isna() & df[name].notna()).sum())
            if bad:
                print(f"warning: {bad} {name} value(s) out of the representable range -> NaT")
            df[name] = parsed.dt.date if type_code == "date" else parsed
        elif type_code.startswith("decimal"):
            from decimal import Decimal

            df[name] = df[name].map(lambda v: None if v is None else Decimal(v))
    return df


def tables(conn, schemas: tuple[str, ...] = ANALYST_SCHEMAS) -> set[str]:
    """The "<schema>.<table>" names (tables and views) this user sees in the catalog."""
    listed = ", ".join(f"'{s}'" for s in schemas)
    df = frame(
        conn,
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({listed})",
    )
    return {f"{s}.{t}" for s, t in zip(df["table_schema"], df["table_name"], strict=True)}


@dataclasses.dataclass(frozen=True)
class Answer:
    """A business question from sql/queries, and what the lake answers."""

    name: str
    question: str
    sql: str
    df: Any


def ask(conn, name: str, sql_dir: Path | None = None) -> Answer:
    """Run the sql/queries question `name` ("domain/question") and return its answer."""
    from gamelake.queries import load_query

    q = load_query(sql_dir or project_root() / "sql", name)
    return Answer(q.name, q.question, q.sql, frame(conn, q.sql))


# --- charts (matplotlib): one call per chart, an empty answer says so instead of failing ------


def _axes(ax, title: str):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    ax.set_title(title)
    return ax


EMPTY_CHART = "no rows in this lake yet"


def _empty(df, ax) -> bool:
    if df.empty:
        ax.text(0.5, 0.5, EMPTY_CHART, ha="center", transform=ax.transAxes)
        # Also in the cell's text output, where a reader (or a test) sees it without the image.
        print(f"{ax.get_title()}: {EMPTY_CHART}")
    return df.empty


def bar(df, x: str, y: str, title: str, *, horizontal: bool = False, ax=None):
    """A bar chart of `y` per `x` (labels as text, values as numbers)."""
    ax = _axes(ax, title)
    if not _empty(df, ax):
        draw = ax.barh if horizontal else ax.bar
        draw(df[x].astype(str), df[y].astype(float))
        if not horizontal:
            ax.tick_params(axis="x", labelrotation=45)
    (ax.set_ylabel if not horizontal else ax.set_xlabel)(y)
    ax.figure.tight_layout()
    return ax


def line(df, x: str, y: str, title: str, *, by: str | None = None, ax=None):
    """A line chart of `y` over `x`, one line per value of `by` when given."""
    ax = _axes(ax, title)
    if not _empty(df, ax):
        groups = df.groupby(by) if by else [(y, df)]
        for label, part in groups:
            part = part.dropna(subset=[x]).sort_values(x)
            ax.plot(part[x], part[y].astype(float), marker=".", label=str(label))
        if by:
            ax.legend(fontsize="small")
        ax.tick_params(axis="x", labelrotation=30)
    ax.set_ylabel(y)
    ax.figure.tight_layout()
    return ax
