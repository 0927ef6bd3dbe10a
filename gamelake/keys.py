"""Collector write keys: one per source, shown once, stored only as a SHA-256 hash.

The key store is a JSON file in the state folder (``<state>/collector-keys.json``, mode
0600, outside git) holding, per key, a public id, the source's name, the hash and the
creation and revocation times. A key is ``glk_`` plus 32 random bytes (URL-safe base64):
high entropy, so a plain SHA-256 is enough to store it (no password hashing needed) and a
guess is hopeless. ``KeyRing`` checks a presented key against every active hash with
``hmac.compare_digest`` and picks up keys created or revoked while the collector runs.

``RateLimiter`` holds one token bucket per key: ``rate`` requests per second on average,
``burst`` at once; a request beyond it waits the seconds ``wait_s`` answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from gamelake.errors import GamelakeError

KEYS_FILE = "collector-keys.json"
TOKEN_PREFIX = "glk_"
TOKEN_BYTES = 32
SOURCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# Requests per second per key on average, and at once: a game server posting batches every
# few milliseconds stays under it; a runaway client loop does not.
DEFAULT_RATE_PER_S = 100.0
DEFAULT_BURST = 200


def key_store_path(state: Path) -> Path:
    """Where the collector's key store lives in a state folder."""
    return state / KEYS_FILE


def hash_key(token: str) -> str:
    """The hex SHA-256 of a key, the only form the key store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random key: the prefix and 32 random bytes, URL-safe base64."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


@dataclasses.dataclass(frozen=True)
class KeyRecord:
    """One key as stored: public id, source, hash, created and (once) revoked times."""

    key_id: str
    source: str
    sha256: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_keys(path: Path) -> list[KeyRecord]:
    """Every key of the store (active and revoked); none when the file does not exist."""
    if not path.exists():
        return []
    try:
        raw = json.loads(path.read_text())
        return [KeyRecord(**item) for item in raw["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise GamelakeError(
            f"the key store {path} is unreadable: {exc}",
            fix="restore it, or move it away and create the keys again",
        ) from exc


def _write_keys(path: Path, records: list[KeyRecord]) -> None:
    """Nothing: replaces the store atomically with a 0600 file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"keys": [dataclasses.asdict(r) for r in records]}, indent=2) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
    os.chmod(tmp, 0o600)  # the umask cannot widen it, but an old tmp file could be wider
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock beside the store, so two commands cannot lose each other's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def create_key(path: Path, source: str, now: str | None = None) -> tuple[KeyRecord, str]:
    """A new key of a source, stored hashed: (its record, the key itself, shown only now)."""
    if not SOURCE_PATTERN.fullmatch(source):
        raise GamelakeError(
            f"source name {source!r} is not allowed",
            fix="use letters, digits, '_', '.' or '-' (up to 64), starting with a letter or digit",
        )
    token = new_token()
    with _locked(path):
        records = load_keys(path)
        taken = {r.key_id for r in records}
        key_id = secrets.token_hex(4)
        while key_id in taken:
            key_id = secrets.token_hex(4)
        record = KeyRecord(key_id, source, hash_key(token), now or _now_iso())
        _write_keys(path, [*records, record])
    return record, token


def revoke_keys(
    path: Path, key_id: str | None = None, source: str | None = None, now: str | None = None
) -> list[KeyRecord]:
    """The active keys matching the id or the source, now revoked in the store."""
    if (key_id is None) == (source is None):
        raise GamelakeError("give a key id or --source, not both", fix="see `gamelake keys list`")
    with _locked(path):
        records = load_keys(path)
        stamp = now or _now_iso()
        updated = [
            dataclasses.replace(r, revoked_at=stamp)
            if r.active and key_id in (None, r.key_id) and source in (None, r.source)
            else r
            for r in records
        ]
        revoked = [new for old, new in zip(records, updated, strict=True) if old is not new]
        if revoked:
            _write_keys(path, updated)
    return revoked


class KeyRing:
    """The active keys of a store, re-read whenever the file changes."""

    def __init__(self, path: Path):
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._active: list[KeyRecord] = []
        self.refresh()

    def refresh(self) -> None:
        """Nothing: re-reads the store when it was replaced or changed since the last read."""
        try:
            stat = self.path.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = (0, 0, 0)
        if stamp != self._stamp:
            self._active = [r for r in load_keys(self.path) if r.active]
            self._stamp = stamp

    @property
    def active(self) -> list[KeyRecord]:
        self.refresh()
        return list(self._active)

    def match(self, token: str) -> KeyRecord | None:
        """The active key a presented key is, else None; compares with every hash in
        constant time, so the answer's timing tells nothing about the stored keys."""
        self.refresh()
        digest = hash_key(token)
        found = None
        for record in self._active:
            if hmac.compare_digest(record.sha256, digest):
                found = record
        return found


class TokenBucket:
    """`burst` tokens, refilled at `rate` per second; each request takes one."""

    def __init__(self, rate: float, burst: int, now: float):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last = now

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """A token bucket per key; a rate of 0 lets everything through."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE_PER_S,
        burst: int = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate < 0 or burst < 1:
            raise GamelakeError(
                f"rate limit {rate}/s with burst {burst}", fix="give a rate >= 0 and a burst >= 1"
            )
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def wait_s(self, key_id: str) -> float:
        """0.0 when the key may send now, else the seconds until it may."""
        if self.rate == 0:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)
