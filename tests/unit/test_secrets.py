from __future__ import annotations

import json

import pytest

from gamelake.bronze import to_bronze
from gamelake.config import project_root
from gamelake.contracts import load_contracts
from gamelake.errors import GamelakeError
from gamelake.secrets import REDACTED, SecretPolicy, declared_secrets, load_policy

KAFKA_COLUMNS = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)


@pytest.fixture(scope="module")
def policy() -> SecretPolicy:
    conf = project_root() / "conf"
    return load_policy(conf, declared_secrets(load_contracts(conf / "contracts")))


@pytest.mark.parametrize(
    "key",
    ["password", "user_pwd", "userPwd", "userpwd", "USER-PWD", "apiKey", "x-api-key", "API_KEY",
     "Authorization", "session_token", "client_secret", "aws_access_key_id", "credentials",
     "passPhrase", "set-cookie"],
)  # fmt: skip
def test_the_shipped_policy_knows_secret_names_in_any_spelling(policy, key):
    assert policy.is_secret(key)


@pytest.mark.parametrize(
    "key", ["user_id", "session_id", "player_name", "keyboard", "kd_ratio", "wealth", "event_type"]
)
def test_ordinary_names_are_not_secrets(policy, key):
    assert not policy.is_secret(key)


def test_every_contract_field_keeps_its_value(policy):
    conf = project_root() / "conf"
    for contract in load_contracts(conf / "contracts").values():
        for field in contract.walk():
            assert policy.is_secret(field.path[-1]) == field.secret, field.path


def test_declared_names_and_exceptions():
    policy = SecretPolicy(words=("token",), exact=("pin",), allow=("tokens_earned",))
    assert policy.is_secret("PIN") and policy.is_secret("auth_token")
    assert not policy.is_secret("tokens_earned") and not policy.is_secret("pinned")
    assert policy.is_secret("tokens_spent")  # the exception is exact, not a prefix
    assert not SecretPolicy(words=()).is_secret("password")


def test_the_test_before_the_regex_asks_for_every_part_of_a_word():
    """A record naming an API host is no candidate for api_key (a tenth of the bench's)."""
    policy = SecretPolicy(words=("api_key", "token"), exact=("PIN",))
    assert policy.hints == (("api", "key"), ("pin",), ("token",))
    assert not policy.mentions('{"host": "api.example", "n": 2}')
    assert policy.mentions('{"X-Api-Key": "k"}') and policy.mentions('{"pin": 1}')


def test_spark_folds_case_in_one_locale_whatever_the_machines(spark, settings):
    """Bronze's hints lower-case the text, which Spark does in the JVM's default locale for a
    text with a non-ASCII character ("API_KEY" is "apı_key" in Turkish)."""
    from gamelake.spark import spark_conf

    conf = spark_conf(settings, "t")
    for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
        assert "-Duser.language=en" in conf[key], key
    assert spark.sparkContext._jvm.java.util.Locale.getDefault().toString() == "en_US"


# Texts with the secret values that must vanish, and what must survive around them.
CASES = [
    ('{"user_id": "u1", "user_pwd": "S-1", "x": 1}', '{"user_id": "u1", "user_pwd": "[REDACTED]", "x": 1}'),
    ('{"a": {"b": [{"userPwd": "S-2"}]}, "ok": "keep"}', '{"a": {"b": [{"userPwd": "[REDACTED]"}]}, "ok": "keep"}'),
    ('{"apiKey": 12345678, "n": 2}', '{"apiKey": 0, "n": 2}'),
    ('{"credentials": {"user": "u", "p": ["S-3", {"q": "S-4"}]}, "n": 3}', '{"credentials": {}, "n": 3}'),
    ('{"tokens": ["S-5", "S-6"], "n": 4}', '{"tokens": [], "n": 4}'),
    ('{"secret": null, "is_token_valid": true}', '{"secret": null, "is_token_valid": true}'),
    ('{"esc": "a\\"b", "password": "S-7\\"still", "z": 0}', '{"esc": "a\\"b", "password": "[REDACTED]", "z": 0}'),
    # Not JSON: a bare value, an unclosed string, an unclosed object up to the end.
    ('{"userpwd": S-8, "x": 1', '{"userpwd": "[REDACTED]", "x": 1'),
    ('{"broken": "json", "password": "S-9', '{"broken": "json", "password": "[REDACTED]"'),
    ('{"x": 1, "authorization": {"bearer": "S-10", "more": [1, 2', '{"x": 1, "authorization": "[REDACTED]"'),
    ('not json at all', 'not json at all'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_python_masks_secret_values_wherever_they_are(policy, text, expected):
    assert policy.redact_text(text) == expected


def test_spark_masks_exactly_like_python(spark, policy):
    rows = [(None, text.encode(), "gamelake.x", 0, i, None) for i, (text, _) in enumerate(CASES)]
    out = to_bronze(spark.createDataFrame(rows, KAFKA_COLUMNS), "gamelake.", policy).collect()
    got = {r.kafka_offset: bytes(r.value).decode() for r in out}
    assert [got[i] for i in range(len(CASES))] == [expected for _, expected in CASES]


def test_masked_json_stays_json_of_the_same_kinds(policy):
    for text, _ in CASES[:7]:
        before, after = json.loads(text), json.loads(policy.redact_text(text))
        assert before.keys() == after.keys()
    assert REDACTED in policy.redact_text('{"password": "x"}')


def test_strip_removes_secret_keys_at_any_depth(policy):
    event = {"user_id": "u", "user_pwd": "S", "p": {"list": [{"apiKey": "S", "k": 1}], "Token": 2}}
    assert policy.strip(event) == {"user_id": "u", "p": {"list": [{"k": 1}]}}


def test_a_policy_file_with_a_typo_is_refused(tmp_path):
    (tmp_path / "secrets.yaml").write_text("name: [password]\n")
    with pytest.raises(GamelakeError, match="unknown keys"):
        load_policy(tmp_path)
