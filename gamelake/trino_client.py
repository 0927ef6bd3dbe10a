"""Talking to Trino: queries, schemas, and registering the lake's Delta tables."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from gamelake import lakefs
from gamelake.config import S3Settings, Settings, TrinoSettings
from gamelake.errors import GamelakeError
from gamelake.runtime.trino_catalog import METASTORE_DIR, is_uri, s3_location

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def connect(
    trino: TrinoSettings,
    user: str | None = None,
    schema: str | None = None,
    catalog: str | None = None,
):
    """A DB-API connection to the profile's Trino, on its Delta catalog unless told another,
    logged in with the user's generated password over TLS."""
    import trino as trino_dbapi

    from gamelake.runtime.trino_auth import client_kwargs

    return trino_dbapi.dbapi.connect(
        host=trino.host,
        port=trino.port,
        catalog=catalog or trino.catalog,
        schema=schema,
        **client_kwargs(trino.auth_dir, user or trino.user),
    )


def run(conn, sql: str) -> Result:
    """Run one statement and fetch every row."""
    from trino.exceptions import TrinoQueryError

    cur = conn.cursor()
    try:
        cur.execute(sql)
        rows = [tuple(r) for r in cur.fetchall()]
    except TrinoQueryError as exc:
        raise GamelakeError(f"Trino rejected the query: {exc.message}") from exc
    except Exception as exc:  # connection refused, timeouts: the trino client wraps many types
        if "Connection refused" in str(exc) or "Max retries" in str(exc):
            raise GamelakeError(
                f"cannot reach Trino: {exc}", fix="run `gamelake up` and check `gamelake status`"
            ) from exc
        raise
    columns = [d[0] for d in (cur.description or [])]
    return Result(columns, rows)


def trino_location(lake: Path, table_dir: Path) -> str:
    """Where Trino finds a table of the lake: `s3://...` for an s3a:// lake, else the
    local:/// location its native local filesystem resolves under the lake."""
    if is_uri(lake):
        return s3_location(str(table_dir))
    local = Path(lakefs.resolved(table_dir)).relative_to(lakefs.resolved(lake))
    return "local:///" + local.as_posix()


def _registered(conn, catalog: str, schema: str, name: str, kind: str | None = None) -> bool:
    """Whether `catalog` has `schema.name` (of `kind`, e.g. 'BASE TABLE' or 'VIEW')."""
    of_kind = f" and table_type = '{kind}'" if kind else ""
    sql = (
        f"select 1 from {catalog}.information_schema.tables "
        f"where table_schema = '{schema}' and table_name = '{name}'{of_kind}"
    )
    return bool(run(conn, sql).rows)


def register_table(conn, catalog: str, layer: str, table: str, location: str) -> bool:
    """Register a Delta table Spark wrote, once; returns True if it was newly registered."""
    run(conn, f"create schema if not exists {catalog}.{layer}")
    if _registered(conn, catalog, layer, table):
        return False
    run(
        conn,
        f"call {catalog}.system.register_table(schema_name => '{layer}', "
        f"table_name => '{table}', table_location => '{location}')",
    )
    log.info("registered %s.%s.%s at %s", catalog, layer, table, location)
    return True


def register_lake_at(
    conn, catalog: str, lake: Path, layers: tuple[str, ...], sql_dir: Path | None = None
) -> list[str]:
    """Register every Delta table of `lake` in `catalog` (rooted there), then (re)create the
    views of <sql_dir>/views (default: the project's sql/); returns the new tables."""
    from gamelake.conventions import find_delta_tables, table_path
    from gamelake.gold.streaming import gold_views

    views = {(v.schema, v.name) for v in gold_views()}
    new = []
    for layer, table in find_delta_tables(lake, layers):
        if (layer, table) in views:
            log.warning("%s/%s is %s.%s as a lake before 2026-12-05 kept it; it is now a view "
                        "over %s_partials, so the folder is not registered and may be deleted",
                        layer, table, layer, table, table)  # fmt: skip
            continue
        location = trino_location(lake, table_path(lake, layer, table))
        if register_table(conn, catalog, layer, table, location):
            new.append(f"{layer}.{table}")
    create_views(conn, catalog, sql_dir)
    return new


def _on_catalog(conn, catalog: str):
    """A connection like `conn` whose session catalog is `catalog`."""
    from gamelake.runtime.trino_auth import connection_like

    return connection_like(conn, catalog=catalog, schema=None)


def _unregister_table_named_as(conn, catalog: str, view) -> None:
    """Unregister a table registered under the view's name (a windowed gold table of a lake
    from before its view); the table's files stay where they are."""
    if _registered(conn, catalog, view.schema, view.name, "BASE TABLE"):
        run(conn, f"call {catalog}.system.unregister_table(schema_name => '{view.schema}', "
                  f"table_name => '{view.name}')")  # fmt: skip
        log.warning("%s.%s.%s was a table; unregistered so the view of that name replaces it",
                    catalog, view.schema, view.name)  # fmt: skip


def create_views(conn, catalog: str, sql_dir: Path | None = None) -> list[str]:
    """CREATE OR REPLACE the views of the windowed gold tables, then every view of
    <sql_dir>/views, in `catalog`; returns those created.

    A view whose tables are not in the lake yet is skipped with a warning (the next
    registration creates it).
    """
    from gamelake.config import project_root
    from gamelake.gold.streaming import gold_views
    from gamelake.queries import list_views, view_ddl

    # Derived views first: the views of sql/ read them.
    views = [*gold_views(), *list_views(sql_dir or project_root() / "sql")]
    if not views:
        return []
    # Views keep the session catalog to resolve their catalog-less names: use the target one.
    session = _on_catalog(conn, catalog)
    created = []
    for view in views:
        run(session, f"create schema if not exists {catalog}.{view.schema}")
        _unregister_table_named_as(session, catalog, view)
        try:
            run(session, view_ddl(view, catalog))
        except GamelakeError as exc:
            log.warning("view %s.%s not created: %s", view.schema, view.name, exc.cause)
            continue
        created.append(f"{view.schema}.{view.name}")
    return created


def create_lake_catalog(conn, catalog: str, lake: Path, s3: S3Settings | None = None) -> None:
    """A Delta catalog over another lake (CREATE CATALOG), e.g. a test's private lake; an
    s3a:// lake is read through the S3 API server `s3` names (default: the LakeUri's own)."""
    from gamelake.runtime.trino_catalog import lake_catalog_properties

    if not is_uri(lake):  # object stores need no folders (the lake may not name its store)
        lakefs.mkdirs(lake / METASTORE_DIR)
    props = lake_catalog_properties(lake, s3)
    connector = props.pop("connector.name")
    with_clause = ", ".join(f"\"{k}\" = '{v}'" for k, v in props.items())
    run(conn, f"create catalog {catalog} using {connector} with ({with_clause})")


def drop_catalog(conn, catalog: str) -> None:
    run(conn, f"drop catalog if exists {catalog}")


def register_lake(settings: Settings) -> list[str]:
    """Register every table of the profile's lake in its Trino catalog; returns the new ones."""
    from gamelake.conventions import load_pipeline_conf

    pipeline = load_pipeline_conf(settings.paths.conf)
    conn = connect(settings.trino)
    return register_lake_at(conn, settings.trino.catalog, settings.paths.lake, pipeline.layers)
