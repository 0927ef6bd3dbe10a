"""The business questions under sql/: listing, loading and running them, and the views.

Files:
- sql/queries/<domain>/<question>.sql: one question each, named "<domain>/<question>";
  the first comment line states the question ("-- Question: ...").
- sql/views/<schema>/<view>.sql: a SELECT that becomes the view <schema>.<view>.
Names in them are schema-qualified without a catalog (`from gold.player_kd_5m`), so the
connection's catalog decides which lake they read.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

from gamelake.errors import GamelakeError

log = logging.getLogger(__name__)

QUESTION = re.compile(r"^--\s*(?:Question|View):\s*(.*)$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Query:
    """A question file: its name (domain/question), the question asked, and the SQL."""

    name: str
    path: Path
    question: str
    sql: str

    @property
    def domain(self) -> str:
        return self.name.split("/", 1)[0]


def question_of(sql: str) -> str:
    """The question the leading comment states (continuation comment lines joined)."""
    lines = sql.splitlines()
    for i, line in enumerate(lines):
        m = QUESTION.match(line.strip())
        if m:
            parts = [m.group(1).strip()]
            for more in lines[i + 1 :]:
                if not more.startswith("--"):
                    break
                parts.append(more.lstrip("-").strip())
            return " ".join(p for p in parts if p)
    return ""


def statement(sql: str) -> str:
    """The SQL without a trailing semicolon (the Trino client takes one bare statement)."""
    return sql.strip().rstrip(";").strip()


def _read(root: Path, path: Path) -> Query:
    sql = path.read_text()
    name = path.relative_to(root).with_suffix("").as_posix()
    return Query(name, path, question_of(sql), statement(sql))


def list_queries(sql_dir: Path) -> list[Query]:
    """Every question under <sql_dir>/queries, sorted by name."""
    root = sql_dir / "queries"
    return [_read(root, p) for p in sorted(root.rglob("*.sql"))]


def load_query(sql_dir: Path, name: str) -> Query:
    """One question by name: "domain/question", or "question" when no other has that name.

    Raises GamelakeError naming the choices when there is no such question.
    """
    queries = list_queries(sql_dir)
    name = name.removesuffix(".sql")
    exact = [q for q in queries if q.name == name]
    if exact:
        return exact[0]
    short = [q for q in queries if q.name.rsplit("/", 1)[-1] == name]
    if len(short) == 1:
        return short[0]
    if len(short) > 1:
        raise GamelakeError(
            f"several questions are called {name!r}",
            fix="name one of: " + ", ".join(q.name for q in short),
        )
    raise GamelakeError(
        f"no question {name!r} under {sql_dir / 'queries'}",
        fix="`gamelake query --list` shows them",
    )


def read_query_file(path: Path) -> Query:
    """Any .sql file as a question (for `gamelake query --file`)."""
    if not path.is_file():
        raise GamelakeError(f"no such file: {path}", fix="give the path of a .sql file")
    sql = path.read_text()
    return Query(path.stem, path, question_of(sql), statement(sql))


@dataclasses.dataclass(frozen=True)
class View:
    """A view file: sql/views/<schema>/<name>.sql."""

    schema: str
    name: str
    sql: str


def list_views(sql_dir: Path) -> list[View]:
    """Every view under <sql_dir>/views, sorted by schema and name."""
    root = sql_dir / "views"
    if not root.is_dir():
        return []
    return [
        View(p.parent.name, p.stem, statement(p.read_text())) for p in sorted(root.glob("*/*.sql"))
    ]


def view_ddl(view: View, catalog: str) -> str:
    """CREATE OR REPLACE VIEW for a view file in `catalog` (re-running it is harmless)."""
    return f"create or replace view {catalog}.{view.schema}.{view.name} as\n{view.sql}"
