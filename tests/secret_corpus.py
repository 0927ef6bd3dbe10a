"""Records carrying secrets under names no contract declares: a hand-written corpus
(tests/data/secrets_corpus.txt) and generated events with secrets added at varied depths.

Every secret value contains SECRET_MARK, so a test finds a leak by searching for that text.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from pathlib import Path

from gamelake.generator import Record

SECRET_MARK = "GLSECRET"
CORPUS = Path(__file__).parent / "data" / "secrets_corpus.txt"

# Names seen in the wild for the same thing (seed 003 says user_pwd and userpwd).
SECRET_NAMES = ("user_pwd", "userPwd", "userpwd", "apiKey", "X-Api-Key", "auth_token",
                "client_secret", "Authorization", "sessionToken", "db_passwd")  # fmt: skip


def hand_written(path: Path = CORPUS) -> list[Record]:
    """The hand-written corpus: one record per line, ``<family><TAB><raw value>``."""
    records = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        family, value = line.split("\t", 1)
        records.append(Record(family, None, value.encode(), malformed="secrets_corpus"))
    return records


def _secret(rng: random.Random) -> object:
    """A secret value of a random shape: text, number, list or object."""
    text = f"{SECRET_MARK}-{rng.getrandbits(40):010x}"
    return rng.choice([text, [text, text + "b"], {"value": text, "kind": "bearer"}])


def with_secrets(event: dict, rng: random.Random) -> dict:
    """The event with secrets added under undeclared names: at the top, nested, in a list."""
    name = rng.choice(SECRET_NAMES)
    where = rng.randrange(3)
    if where == 0:
        event[name] = _secret(rng)
    elif where == 1:
        event["client_meta"] = {"device": "pc", "auth": {name: _secret(rng)}}
    else:
        event["client_meta"] = {"sessions": [{"n": 1}, {name: _secret(rng)}]}
    return event


def add_generated_secrets(records: Iterable[Record], fraction: float = 0.2) -> list[Record]:
    """The records with secrets added to about ``fraction`` of the well-formed JSON objects.

    Chosen and shaped from each record's own bytes, so a duplicate gets the same secret as
    the record it repeats and deduplication still sees one event.
    """
    out = []
    for r in records:
        rng = random.Random(hashlib.sha256(r.value).digest())
        if r.malformed is None and rng.random() < fraction:
            event = json.loads(r.value)
            if isinstance(event, dict):
                r = r._replace(value=json.dumps(with_secrets(event, rng)).encode())
        out.append(r)
    return out
