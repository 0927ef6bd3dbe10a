"""Trino's password authentication: generated passwords, bcrypt hashes, TLS keys, shared secret.

Trino checks passwords only on secure requests (HTTPS); over plain HTTP it would take any user
name. So the coordinator serves HTTPS only, with a self-signed certificate made on first start,
and its file authenticator checks bcrypt hashes of passwords generated for every user of
conf/trino/access.yaml. Everything lives in one folder (settings.trino.auth_dir), each file
0600; clients read their user's password and the certificate from there. Nothing here is
ever logged.

Layout of the folder:
    <user>.password      the user's password (clients)
    password.db          user:bcrypt-hash lines (Trino's file authenticator)
    server.secrets       shared secret and keystore password, one `key=value` a line (Trino)
    keystore.p12         the server's key and self-signed certificate (Trino)
    trino-cert.pem       that certificate, which clients verify the server with
    trino-cert.names     the names it was made for (a new host makes a new certificate)
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import subprocess
from collections.abc import Iterable
from pathlib import Path

from gamelake.errors import GamelakeError

PASSWORD_DB = "password.db"
SERVER_SECRETS = "server.secrets"
KEYSTORE = "keystore.p12"
CERT = "trino-cert.pem"
CERT_NAMES = "trino-cert.names"
# Trino's file authenticator accepts bcrypt hashes of cost 8 or more, marked $2y$.
BCRYPT_COST = 10
CERT_VALIDITY_DAYS = 3650
# Names a certificate must carry for a client on this machine (Python, the CLI, Trino itself).
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def password_file(auth_dir: Path, user: str) -> Path:
    return auth_dir / f"{user}.password"


def cert_file(auth_dir: Path) -> Path:
    return auth_dir / CERT


def write_private(path: Path, data: str | bytes) -> None:
    """Write `data` to `path`, readable and writable by the owner only (0600) from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


def bcrypt_hash(password: str, cost: int = BCRYPT_COST) -> str:
    """A bcrypt hash of `password` in the $2y$ form Trino's password file requires."""
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()
    # $2b$ and $2y$ name the same algorithm; Trino recognises only the latter.
    return "$2y$" + hashed[4:]


def password_db(passwords: dict[str, str], cost: int = BCRYPT_COST) -> str:
    """The password file's text: one `user:hash` line per user."""
    return "".join(f"{user}:{bcrypt_hash(pw, cost)}\n" for user, pw in sorted(passwords.items()))


def read_password(auth_dir: Path, user: str) -> str:
    """The generated password of `user`, or a readable error saying how to make it."""
    path = password_file(auth_dir, user)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise GamelakeError(
            f"no Trino password for user {user!r} in {auth_dir}",
            fix="run `gamelake up` (passwords are generated on Trino's first start) "
            "or `gamelake trino auth`",
        ) from None


def ensure_passwords(auth_dir: Path, users: Iterable[str]) -> dict[str, str]:
    """Every user's password, generating those missing; rewrites password.db when any is new."""
    passwords, created = {}, False
    for user in users:
        path = password_file(auth_dir, user)
        if not path.is_file():
            write_private(path, secrets.token_urlsafe(24) + "\n")
            created = True
        passwords[user] = path.read_text().strip()
    if created or not (auth_dir / PASSWORD_DB).is_file():
        write_private(auth_dir / PASSWORD_DB, password_db(passwords))
    return passwords


def _read_kv(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def ensure_server_secrets(auth_dir: Path) -> dict[str, str]:
    """The internal shared secret and the keystore password, generated once."""
    path = auth_dir / SERVER_SECRETS
    if not path.is_file():
        values = {
            "shared_secret": secrets.token_urlsafe(48),
            "keystore_password": secrets.token_urlsafe(24),
        }
        write_private(path, "".join(f"{k}={v}\n" for k, v in values.items()))
    return _read_kv(path)


def subject_alt_names(hosts: Iterable[str]) -> str:
    """keytool's SAN extension for the hosts (IPs as IP:, names as DNS:; wildcards skipped)."""
    names = []
    for host in dict.fromkeys([*LOOPBACK_NAMES, *hosts]):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            names.append(f"DNS:{host}")
            continue
        if not ip.is_unspecified:
            names.append(f"IP:{host}")
    return "SAN=" + ",".join(names)


def ensure_keystore(auth_dir: Path, keytool: Path, hosts: Iterable[str], password: str) -> None:
    """The server's self-signed key pair (keystore.p12) and its certificate as PEM, made once."""
    keystore, cert, names = auth_dir / KEYSTORE, cert_file(auth_dir), auth_dir / CERT_NAMES
    san = subject_alt_names(hosts)
    if keystore.is_file() and cert.is_file() and names.is_file() and names.read_text() == san:
        return
    # First start, or the profile's host changed: a certificate for the names clients use.
    keystore.unlink(missing_ok=True)
    # The password goes through the environment, never the command line (`ps` shows that).
    env = {**os.environ, "GAMELAKE_KEYSTORE_PASSWORD": password}
    common = ["-keystore", str(keystore), "-storetype", "PKCS12",
              "-storepass:env", "GAMELAKE_KEYSTORE_PASSWORD", "-alias", "trino"]  # fmt: skip
    steps = [
        ["-genkeypair", "-keyalg", "RSA", "-keysize", "2048", "-validity",
         str(CERT_VALIDITY_DAYS), "-dname", "CN=gamelake-trino", "-ext", san,
         "-keypass:env", "GAMELAKE_KEYSTORE_PASSWORD"],
        ["-exportcert", "-rfc", "-file", str(cert)],
    ]  # fmt: skip
    auth_dir.mkdir(parents=True, exist_ok=True)
    for step in steps:
        result = subprocess.run([str(keytool), *step, *common], env=env, capture_output=True,
                                text=True)  # fmt: skip
        if result.returncode != 0:
            raise GamelakeError(
                f"keytool could not make Trino's certificate: {result.stdout}{result.stderr}",
                fix=f"check that {keytool} runs; remove {auth_dir} to start over",
            )
    for path in (keystore, cert):
        path.chmod(0o600)
    write_private(names, san)


@dataclasses.dataclass(frozen=True)
class ServerAuth:
    """What a coordinator needs to check passwords over HTTPS, as paths it reads."""

    password_db: Path
    keystore: Path
    cert: Path
    keystore_password: str
    shared_secret: str


def ensure(auth_dir: Path, users: Iterable[str], hosts: Iterable[str], keytool: Path) -> ServerAuth:
    """Generate whatever is missing of the passwords, hashes, keys and secrets; returns them."""
    ensure_passwords(auth_dir, users)
    server = ensure_server_secrets(auth_dir)
    ensure_keystore(auth_dir, keytool, hosts, server["keystore_password"])
    return ServerAuth(
        password_db=auth_dir / PASSWORD_DB,
        keystore=auth_dir / KEYSTORE,
        cert=cert_file(auth_dir),
        keystore_password=server["keystore_password"],
        shared_secret=server["shared_secret"],
    )


def server_properties(auth: ServerAuth, port: int, internal_host: str) -> dict[str, str]:
    """config.properties entries: HTTPS only, passwords checked, internal calls signed."""
    return {
        # No plain-HTTP port at all: there Trino would accept any claimed user.
        "http-server.http.enabled": "false",
        "http-server.https.enabled": "true",
        "http-server.https.port": str(port),
        "http-server.https.keystore.path": str(auth.keystore),
        "http-server.https.keystore.key": auth.keystore_password,
        "http-server.authentication.type": "PASSWORD",
        # Explicit, in case HTTP is switched on again: HTTP requests are then refused.
        "http-server.authentication.allow-insecure-over-http": "false",
        "discovery.uri": f"https://{internal_host}:{port}",
        # The coordinator calls itself (discovery, tasks) over HTTPS, signed with the secret.
        "internal-communication.shared-secret": auth.shared_secret,
        "internal-communication.https.required": "true",
        "internal-communication.https.keystore.path": str(auth.keystore),
        "internal-communication.https.keystore.key": auth.keystore_password,
        "internal-communication.https.truststore.path": str(auth.cert),
    }


def password_authenticator_properties(password_db_path: Path | str) -> str:
    """etc/password-authenticator.properties for the file authenticator."""
    return f"password-authenticator.name=file\nfile.password-file={password_db_path}\n"


# --- clients -------------------------------------------------------------------------------


def tls_session(cert: Path):
    """A requests session that trusts exactly Trino's certificate."""
    import requests

    session = requests.Session()
    session.verify = str(cert)
    # requests lets REQUESTS_CA_BUNDLE (set on many machines) override a session's CA file.
    session.trust_env = False
    return session


def client_kwargs(auth_dir: Path, user: str) -> dict:
    """trino.dbapi.connect arguments that log `user` in with its generated password over TLS."""
    from trino.auth import BasicAuthentication

    return {
        "user": user,
        "http_scheme": "https",
        "auth": BasicAuthentication(user, read_password(auth_dir, user)),
        "http_session": tls_session(cert_file(auth_dir)),
    }


def connection_like(conn, **changes):
    """A new DB-API connection with `conn`'s server, login and TLS session; `changes` override."""
    import trino

    same = {
        "host": conn.host, "port": conn.port, "user": conn.user, "catalog": conn.catalog,
        "schema": conn.schema, "http_scheme": conn.http_scheme, "auth": conn.auth,
        "http_session": conn._http_session,  # the trino client keeps no public handle on it
    }  # fmt: skip
    return trino.dbapi.connect(**{**same, **changes})
