from __future__ import annotations

import tomllib

import pytest

from gamelake.config import load_settings, load_versions
from gamelake.errors import GamelakeError


def test_local_profile_resolves_paths_under_root(root):
    s = load_settings("local", root)
    assert s.env == "local"
    assert s.paths.lake == root / ".gamelake" / "lake"
    assert s.paths.jars == root / ".gamelake" / "jars"
    assert s.kafka.bootstrap_servers == f"127.0.0.1:{s.kafka.port}"
    assert s.trino.url == f"https://127.0.0.1:{s.trino.port}"
    assert s.trino.listen_host == "127.0.0.1"
    assert s.trino.auth_dir == s.paths.state / "trino" / "auth"


def test_test_profile_extends_local(root):
    local, test = load_settings("local", root), load_settings("test", root)
    assert test.env == "test"
    assert test.kafka == local.kafka  # same services: tests reuse what `up` started
    assert test.spark.shuffle_partitions == 2


def test_overrides_win_over_the_profile(root, tmp_path):
    s = load_settings("local", root, {"paths": {"state": str(tmp_path)}, "kafka": {"port": 1234}})
    assert s.paths.state == tmp_path
    assert s.kafka.port == 1234
    assert s.kafka.controller_port == load_settings("local", root).kafka.controller_port


def test_unknown_profile_names_the_known_ones(root):
    with pytest.raises(GamelakeError) as err:
        load_settings("nope", root)
    assert "local" in err.value.fix and "nope" in err.value.cause


def test_unknown_key_in_profile_is_a_clear_error(root):
    with pytest.raises(GamelakeError, match="unknown key"):
        load_settings("local", root, {"kafka": {"prot": 1}})


def test_python_pins_match_the_jvm_versions_in_the_pom(root):
    """pyspark and delta-spark must match the jars Maven resolves, or Spark fails at run time."""
    versions = load_versions(root / "conf" / "maven" / "pom.xml")
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(d.split("==") for d in deps)
    assert pins["pyspark"] == versions.spark
    assert pins["delta-spark"] == versions.delta
    assert versions.trino == "476"
    assert versions.trino_java_min >= 24


def test_streams_take_a_backlog_in_bounded_batches_unless_told_otherwise(root):
    """The profile bounds micro-batches; a flag overrides the bound and 0 lifts it."""
    from gamelake.jobargs import stream_parser
    from gamelake.jobcontext import stream_options

    bounds = load_settings("local", root).streams
    assert bounds.max_offsets_per_trigger and bounds.max_bytes_per_trigger

    def options(*argv: str):
        parser = stream_parser("t", "t")
        parser.add_argument("--max-offsets-per-trigger", type=int, default=None)
        parser.add_argument("--max-bytes-per-trigger", default=None)
        return stream_options(parser.parse_args(list(argv)), bounds)

    default = options()
    assert default.max_offsets_per_trigger == bounds.max_offsets_per_trigger
    assert default.max_bytes_per_trigger == bounds.max_bytes_per_trigger
    given = options("--max-offsets-per-trigger", "300", "--max-bytes-per-trigger", "1m")
    assert (given.max_offsets_per_trigger, given.max_bytes_per_trigger) == (300, "1m")
    lifted = options("--max-offsets-per-trigger", "0", "--max-bytes-per-trigger", "0")
    assert (lifted.max_offsets_per_trigger, lifted.max_bytes_per_trigger) == (None, None)


def test_a_profile_without_stream_bounds_has_none(root, tmp_path):
    env = tmp_path / "conf" / "env"
    env.mkdir(parents=True)
    local = (root / "conf" / "env" / "local.yaml").read_text()
    (env / "bare.yaml").write_text(local.split("streams:")[0] + "trino:" + local.split("trino:")[1])
    (tmp_path / "conf" / "maven").mkdir()
    (tmp_path / "conf" / "maven" / "pom.xml").write_bytes(
        (root / "conf" / "maven" / "pom.xml").read_bytes()
    )
    bounds = load_settings("bare", tmp_path).streams
    assert (bounds.max_offsets_per_trigger, bounds.max_bytes_per_trigger) == (None, None)


def test_gold_runs_at_its_own_interval_from_the_flag_or_the_profile(root):
    """--gold-trigger-interval wins over the profile's streams.gold_interval; neither: the
    streams' interval (None)."""
    from gamelake.jobcontext import gold_interval
    from jobs import pipeline

    profile = load_settings("local", root, {"streams": {"gold_interval": "30 seconds"}}).streams
    flag = pipeline.parse_args(["--gold-trigger-interval", "1 minute"])
    assert gold_interval(flag, profile) == "1 minute"
    assert gold_interval(pipeline.parse_args([]), profile) == "30 seconds"
    assert gold_interval(pipeline.parse_args([]), load_settings("local", root).streams) is None
