"""Collector write keys: made once, stored only hashed (0600), matched in constant time,
revoked live; the per-key token bucket on an injected clock."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from gamelake.errors import GamelakeError
from gamelake.keys import (
    KeyRing,
    RateLimiter,
    TokenBucket,
    create_key,
    hash_key,
    key_store_path,
    load_keys,
    revoke_keys,
)


def test_a_key_is_shown_once_and_stored_only_as_its_hash(tmp_path):
    path = key_store_path(tmp_path / "state")
    record, token = create_key(path, "game-server-1", now="2026-01-01T00:00:00Z")
    assert token.startswith("glk_") and len(token) >= 40
    text = path.read_text()
    assert token not in text and token[4:] not in text
    assert record.sha256 == hashlib.sha256(token.encode()).hexdigest() == hash_key(token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (stored,) = json.loads(text)["keys"]
    assert stored == {
        "key_id": record.key_id,
        "source": "game-server-1",
        "sha256": record.sha256,
        "created_at": "2026-01-01T00:00:00Z",
        "revoked_at": None,
    }
    _, again = create_key(path, "game-server-1")
    assert again != token and len(load_keys(path)) == 2


def test_the_ring_matches_only_active_keys_and_sees_changes_without_a_restart(tmp_path):
    path = key_store_path(tmp_path)
    ring = KeyRing(path)
    assert ring.active == [] and ring.match("glk_anything") is None
    first, token = create_key(path, "a")
    assert ring.match(token) == first
    assert ring.match(token + "x") is None and ring.match(token[:-1]) is None
    assert ring.match(first.sha256) is None  # the stored hash is no key
    second, other = create_key(path, "b")
    assert [r.key_id for r in revoke_keys(path, key_id=first.key_id)] == [first.key_id]
    assert ring.match(token) is None and ring.match(other) == second
    assert revoke_keys(path, key_id=first.key_id) == []  # already revoked
    assert [r.source for r in revoke_keys(path, source="b")] == ["b"]
    assert ring.active == []
    assert all(r.revoked_at for r in load_keys(path))


def test_bad_source_names_revocation_arguments_and_stores_are_readable_errors(tmp_path):
    path = key_store_path(tmp_path)
    for name in ("", "-x", "a b", "x" * 65, "../etc"):
        with pytest.raises(GamelakeError, match="source name"):
            create_key(path, name)
    with pytest.raises(GamelakeError, match="not both"):
        revoke_keys(path)
    with pytest.raises(GamelakeError, match="not both"):
        revoke_keys(path, key_id="k", source="s")
    path.write_text("{broken")
    with pytest.raises(GamelakeError, match="unreadable"):
        load_keys(path)


def test_a_bucket_gives_its_burst_then_one_token_per_interval():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0
    # A long pause refills the burst, no more.
    assert [bucket.take(100.0) for _ in range(4)][-1] == pytest.approx(0.5)


def test_the_limiter_keeps_a_bucket_per_key_and_rate_zero_is_no_limit():
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=1, clock=lambda: now[0])
    assert limiter.wait_s("a") == 0.0
    assert limiter.wait_s("a") == pytest.approx(1.0)
    assert limiter.wait_s("b") == 0.0
    now[0] = 1.0
    assert limiter.wait_s("a") == 0.0
    unlimited = RateLimiter(rate=0, burst=1, clock=lambda: 0.0)
    assert all(unlimited.wait_s("a") == 0.0 for _ in range(1000))
    with pytest.raises(GamelakeError):
        RateLimiter(rate=-1)
    with pytest.raises(GamelakeError):
        RateLimiter(rate=1, burst=0)
