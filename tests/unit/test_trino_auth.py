"""Trino's generated credentials: bcrypt hashes Trino accepts, 0600 files made once, a
certificate naming loopback, and HTTPS-only password authentication in its config."""

from __future__ import annotations

import shutil
import ssl
import stat

import bcrypt
import pytest

from gamelake.errors import GamelakeError
from gamelake.runtime import trino_auth


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bcrypt_hash_is_the_2y_form_trino_reads_and_checks_the_password():
    hashed = trino_auth.bcrypt_hash("s3cret", cost=8)
    assert hashed.startswith("$2y$08$")
    # $2y$ is $2b$ under another name: the hash verifies the password and nothing else.
    as_2b = ("$2b$" + hashed[4:]).encode()
    assert bcrypt.checkpw(b"s3cret", as_2b)
    assert not bcrypt.checkpw(b"s3cret!", as_2b)
    assert trino_auth.BCRYPT_COST >= 8


def test_passwords_are_generated_once_per_user_into_private_files(tmp_path):
    auth = tmp_path / "auth"
    first = trino_auth.ensure_passwords(auth, ["etl", "analyst"])
    assert first["etl"] != first["analyst"] and len(first["etl"]) >= 24
    assert trino_auth.ensure_passwords(auth, ["etl", "analyst"]) == first
    for name in ("etl.password", "analyst.password", "password.db"):
        assert _mode(auth / name) == 0o600, name
    assert _mode(auth) == 0o700
    lines = dict(line.split(":", 1) for line in (auth / "password.db").read_text().split())
    assert set(lines) == {"etl", "analyst"}
    assert all(first[u] not in h and h.startswith("$2y$") for u, h in lines.items())
    # A user added to access.yaml gets a password; the others keep theirs.
    again = trino_auth.ensure_passwords(auth, ["etl", "analyst", "ops"])
    assert again["etl"] == first["etl"] and "ops:" in (auth / "password.db").read_text()
    assert trino_auth.read_password(auth, "analyst") == first["analyst"]


def test_a_missing_password_says_how_to_make_it(tmp_path):
    with pytest.raises(GamelakeError, match="gamelake up"):
        trino_auth.read_password(tmp_path, "etl")


def test_certificate_names_loopback_and_the_profile_host_but_no_wildcard():
    san = trino_auth.subject_alt_names(["127.0.0.1", "0.0.0.0", "trino", "10.0.0.5"])
    assert san == "SAN=IP:127.0.0.1,DNS:localhost,DNS:trino,IP:10.0.0.5"


@pytest.mark.skipif(shutil.which("keytool") is None, reason="needs a JDK's keytool")
def test_ensure_makes_a_private_keystore_and_a_certificate_for_the_hosts(tmp_path):
    auth_dir = tmp_path / "auth"
    auth = trino_auth.ensure(auth_dir, ["etl"], ["trino"], shutil.which("keytool"))
    for path in (auth.keystore, auth.cert, auth_dir / trino_auth.SERVER_SECRETS):
        assert _mode(path) == 0o600, path
    decoded = ssl._ssl._test_decode_cert(str(auth.cert))  # the PEM clients verify against
    assert {("IP Address", "127.0.0.1"), ("DNS", "localhost"), ("DNS", "trino")} <= set(
        decoded["subjectAltName"]
    )
    # Made once: a second start keeps the certificate clients already trust.
    before = auth.cert.read_bytes()
    again = trino_auth.ensure(auth_dir, ["etl"], ["trino"], shutil.which("keytool"))
    assert again == auth and auth.cert.read_bytes() == before
    assert auth.shared_secret and auth.keystore_password != auth.shared_secret
    # A profile that moves Trino to another host name gets a certificate for it.
    trino_auth.ensure(auth_dir, ["etl"], ["lake.example"], shutil.which("keytool"))
    names = ssl._ssl._test_decode_cert(str(auth.cert))["subjectAltName"]
    assert ("DNS", "lake.example") in names and ("DNS", "trino") not in names


def test_server_serves_https_only_and_checks_passwords(tmp_path):
    auth = trino_auth.ServerAuth(tmp_path / "password.db", tmp_path / "k.p12",
                                 tmp_path / "c.pem", "kpw", "secret")  # fmt: skip
    props = trino_auth.server_properties(auth, 8080, "127.0.0.1")
    assert props["http-server.http.enabled"] == "false"
    assert props["http-server.https.enabled"] == "true"
    assert props["http-server.https.port"] == "8080"
    assert props["http-server.authentication.type"] == "PASSWORD"
    assert props["http-server.authentication.allow-insecure-over-http"] == "false"
    assert props["discovery.uri"] == "https://127.0.0.1:8080"
    assert props["internal-communication.shared-secret"] == "secret"
    assert props["internal-communication.https.required"] == "true"
    authenticator = trino_auth.password_authenticator_properties(auth.password_db)
    assert f"file.password-file={tmp_path / 'password.db'}" in authenticator.splitlines()


def test_clients_log_in_over_tls_checked_against_the_generated_certificate(tmp_path):
    trino_auth.ensure_passwords(tmp_path, ["analyst"])
    kwargs = trino_auth.client_kwargs(tmp_path, "analyst")
    assert kwargs["http_scheme"] == "https" and kwargs["user"] == "analyst"
    assert kwargs["auth"]._password == trino_auth.read_password(tmp_path, "analyst")
    session = kwargs["http_session"]
    assert session.verify == str(tmp_path / trino_auth.CERT)
    assert session.trust_env is False  # REQUESTS_CA_BUNDLE must not replace the CA
