"""`produce` on bad input, the pure parts: lines read with a cap, each line classified (too
large, not UTF-8, binary), and the rejects record made of it (cut, secrets masked)."""

from __future__ import annotations

import io
import json

import pytest

from gamelake.errors import GamelakeError
from gamelake.producer import RECORD_OVERHEAD_BYTES
from gamelake.record_file import FileRecord, read_lines, read_record_file
from gamelake.rejects import raw_keep, raw_reject
from gamelake.replay import check_record

LIMIT = 1_000


def lines_of(data: bytes, cap: int = -1) -> list[tuple[bytes, int]]:
    return list(read_lines(io.BytesIO(data), cap))


def test_lines_lose_their_endings_and_a_long_one_only_keeps_its_head():
    assert lines_of(b"a\nbb\r\n\nlast") == [(b"a", 0), (b"bb", 0), (b"", 0), (b"last", 0)]
    long = b"x" * 5_000
    assert lines_of(b"a\n" + long + b"\r\nb\n", cap=100) == [
        (b"a", 0),
        (b"x" * 100, 4_900),
        (b"b", 0),
    ]
    # A final line with no ending, longer than the cap; and one exactly at the cap.
    assert lines_of(long, cap=100) == [(b"x" * 100, 4_900)]
    assert lines_of(b"x" * 99 + b"\ny\n", cap=100) == [(b"x" * 99, 0), (b"y", 0)]


def test_a_cut_line_is_never_unwrapped_nor_skipped_as_blank(tmp_path):
    path = tmp_path / "f.jsonl"
    wrapper = b'{"family": "telemetry", "value": "' + b"v" * 500 + b'"}'
    path.write_bytes(wrapper + b"\n" + b" " * 300 + b"\n\n" + b"ok\n")
    records = list(read_record_file(path, cap=200))
    assert [(r.line_no, r.wrapped, r.cut) for r in records] == [
        (1, False, len(wrapper) - 200),
        (2, False, 100),
        (4, False, 0),
    ]
    assert records[0].value == wrapper[:200]


def test_lines_are_classified_too_large_not_utf8_binary_or_fine():
    room = LIMIT - RECORD_OVERHEAD_BYTES

    def check(value: bytes, wrapped: bool = False, key: bytes | None = None, cut: int = 0):
        return check_record(FileRecord(7, None, key, value, wrapped, cut), LIMIT)

    assert check(b"x" * room) is None
    assert check(b"x" * (room - 3), key=b"abc") is None
    big = check(b"x" * (room - 2), key=b"abc")
    assert (big.line_no, big.reason, big.size) == (7, "too_large", room + 1)
    assert (
        big.message
        == "965 bytes, over the 964 bytes a Kafka record may hold (message limit 1,000 bytes)"
    )
    assert check(b"x" * 10, cut=5_000).size == 5_010
    bad = check(b'{"a": "caf\xe9"}')
    assert bad.reason == "invalid_utf8" and "byte 11 is e9" in bad.message
    binary = check(b'{"a": 1}\x00\x01')
    assert binary.reason == "binary" and "control byte 00 at byte 9" in binary.message
    assert check(b'{"a":\t"text\twith tabs"}\r') is None
    assert check('{"name": "Zoë 🎮"}'.encode()) is None
    # A wrapped value is exact bytes and may be anything; only its size counts.
    assert check(b"\xff\x00", wrapped=True) is None
    assert check(b"\xff" * LIMIT, wrapped=True).reason == "too_large"


def test_a_reject_record_holds_the_cut_head_with_secrets_masked():
    data = b'{"user_pwd": "hunter2", "pad": "' + b"\xff" * 3_000 + b'"}'
    record = json.loads(
        raw_reject(
            "too_large",
            [{"path": "", "message": "line 3: too big"}],
            data,
            raw_keep(LIMIT),
            lambda text: text.replace("hunter2", "[REDACTED]"),
            "2026-01-01T00:00:00.000000Z",
            size=len(data) + 10,
            family="telemetry",
            origin={"command": "produce", "file": "f.jsonl", "line": 3},
        )
    )
    assert record["raw"].startswith('{"user_pwd": "[REDACTED]", "pad": "\ufffd')
    assert len(record["raw"].encode("utf-8", "surrogatepass")) <= 3 * raw_keep(LIMIT)
    assert record["raw_bytes"] == len(data) + 10 and record["truncated"] is True
    assert (record["reason"], record["family"], record["index"]) == ("too_large", "telemetry", None)
    assert record["errors"] == [{"path": "", "message": "line 3: too big"}]
    assert record["origin"]["line"] == 3
    assert raw_keep(1_000_000) == 64 * 1024 and raw_keep(8_000) == 1_000


def test_a_record_over_the_producers_limit_is_refused_alone_as_record_too_large():
    """librdkafka refuses it at produce(), before any broker is involved (none is needed)."""
    from gamelake.producer import BULK_SETTINGS, KafkaProducer, RecordTooLarge, is_size_error

    sink = KafkaProducer(
        "127.0.0.1:1", "tests", {**BULK_SETTINGS, "log_level": 0}, max_record_bytes=LIMIT
    )
    sink.send("t", None, b"x" * (LIMIT - RECORD_OVERHEAD_BYTES))  # exactly at the limit
    with pytest.raises(RecordTooLarge, match="MSG_SIZE_TOO_LARGE"):
        sink.send("t", None, b"x" * (LIMIT - RECORD_OVERHEAD_BYTES + 1))
    assert sink.per_topic == {"t": 1}
    # The record at the limit has no broker to go to: closing reports it and ends the client.
    with pytest.raises(GamelakeError, match="1 unacknowledged"):
        sink.close(timeout_s=0)
    assert not is_size_error(ValueError("MSG_SIZE_TOO_LARGE"))
