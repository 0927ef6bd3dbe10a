"""The embedded object store: s3proxy (Maven Central) serving a local directory over the S3
API on loopback, for profiles whose lake and checkpoints are s3a:// (`s3: {embedded: true}`).

Credentials never live in a profile: the caller passes the pair every client also uses
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). When both are unset, an embedded s3proxy and its
clients share `TEST_CREDENTIALS`: that server listens on 127.0.0.1 only and guards a directory
under the state folder, so the pair protects nothing a local user could not read anyway.
"""

from __future__ import annotations

import dataclasses
import http.client
import shutil
from collections.abc import Mapping
from pathlib import Path

from gamelake.config import S3Settings, Settings
from gamelake.errors import GamelakeError
from gamelake.runtime import process
from gamelake.runtime.artifacts import Layout

CONF_HINT = "conf/env/<profile>.yaml (s3.port)"
# s3proxy itself listens here whatever clients call the host: it serves this machine only.
BIND_HOST = "127.0.0.1"
ACCESS_KEY_VAR = "AWS_ACCESS_KEY_ID"
SECRET_KEY_VAR = "AWS_SECRET_ACCESS_KEY"


@dataclasses.dataclass(frozen=True)
class Credentials:
    """An S3 access key pair (kept out of reprs and logs)."""

    access_key: str
    secret_key: str = dataclasses.field(repr=False)

    def as_env(self) -> dict[str, str]:
        """The pair as the environment variables every S3 client here reads."""
        return {ACCESS_KEY_VAR: self.access_key, SECRET_KEY_VAR: self.secret_key}


TEST_CREDENTIALS = Credentials("gamelake", "gamelake-local-secret")


def credentials(env: Mapping[str, str], s3: S3Settings) -> Credentials:
    """The key pair from `env`; for an embedded store with none set, TEST_CREDENTIALS."""
    access, secret = env.get(ACCESS_KEY_VAR), env.get(SECRET_KEY_VAR)
    if access and secret:
        return Credentials(access, secret)
    if s3.embedded and not access and not secret:
        return TEST_CREDENTIALS
    raise GamelakeError(
        f"S3 credentials are incomplete: set both {ACCESS_KEY_VAR} and {SECRET_KEY_VAR}",
        fix=f"export {ACCESS_KEY_VAR}=... {SECRET_KEY_VAR}=... for {s3.endpoint}"
        + (" (or unset both to use the embedded store's test pair)" if s3.embedded else ""),
    )


def s3_dir(settings: Settings) -> Path:
    return settings.paths.state / "s3proxy"


def data_dir(settings: Settings) -> Path:
    """The directory the store serves: one sub-directory per bucket."""
    return s3_dir(settings) / "data"


def _s3(settings: Settings) -> S3Settings:
    if settings.s3 is None:
        raise GamelakeError(
            f"profile {settings.env!r} has no `s3:` section", fix="add one to its conf/env file"
        )
    return settings.s3


def handle(settings: Settings) -> process.ServiceHandle:
    marker = str(s3_dir(settings) / "s3proxy.conf")
    return process.ServiceHandle.named("s3proxy", settings.paths.run, settings.paths.logs, marker)


def proxy_properties(s3: S3Settings, basedir: Path, creds: Credentials) -> str:
    """s3proxy's --properties file: the filesystem backend at `basedir`, SigV2/V4 with `creds`."""
    if s3.secure:
        raise GamelakeError(
            "the embedded s3proxy serves plain http on loopback, but s3.secure is true",
            fix="set s3.secure: false, or s3.embedded: false for an https endpoint",
        )
    return "\n".join(
        [
            f"s3proxy.endpoint=http://{BIND_HOST}:{s3.port}",
            "s3proxy.authorization=aws-v2-or-v4",
            f"s3proxy.identity={creds.access_key}",
            f"s3proxy.credential={creds.secret_key}",
            # Otherwise any x-amz-* header it does not know is NotImplemented: Trino's listings
            # send x-amz-optional-object-attributes.
            "s3proxy.ignore-unknown-headers=true",
            # No s3proxy.virtual-host: buckets are addressed by path (path-style).
            "jclouds.provider=filesystem-nio2",
            f"jclouds.filesystem.basedir={basedir}",
            "",
        ]
    )


# Without a configuration logback logs every Jetty call at DEBUG.
LOGBACK = """\
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{36} - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.gaul.s3proxy" level="INFO"/>
  <logger name="org.gaul.shaded.org.eclipse.jetty.server" level="INFO"/>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def prepare(settings: Settings, creds: Credentials) -> Path:
    """Write the store's config and logging, create its bucket; returns the properties file."""
    s3 = _s3(settings)
    sdir = s3_dir(settings)
    sdir.mkdir(parents=True, exist_ok=True)
    # A bucket of the filesystem backend is a directory under its basedir.
    (data_dir(settings) / s3.bucket).mkdir(parents=True, exist_ok=True)
    props = sdir / "s3proxy.conf"
    props.touch(mode=0o600)
    props.chmod(0o600)  # it holds the secret
    props.write_text(proxy_properties(s3, data_dir(settings), creds))
    (sdir / "logback.xml").write_text(LOGBACK)
    return props


def command(settings: Settings, props: Path) -> list[str]:
    """The java command line of the store (config at `props`)."""
    java = shutil.which("java")
    if java is None:
        raise GamelakeError("no `java` on PATH (s3proxy needs Java 17+)", fix="install openjdk-17")
    jars = Layout(settings.paths, settings.versions).s3proxy_jars
    if not any(jars.glob("*.jar")):
        raise GamelakeError(
            f"no s3proxy jars in {jars}",
            fix="run `gamelake setup` with this profile (GAMELAKE_ENV=<profile>)",
        )
    heap_mb = _s3(settings).heap_mb
    return [
        java,
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 64)}m",
        "-Djava.awt.headless=true",
        f"-Dlogback.configurationFile={s3_dir(settings) / 'logback.xml'}",
        "-cp",
        f"{jars}/*",
        "org.gaul.s3proxy.Main",
        "--properties",
        str(props),
    ]


def is_healthy(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True when the store answers HTTP at all (403 to an anonymous request is an answer)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def start(settings: Settings, creds: Credentials) -> int:
    """Start s3proxy in the background, serving `<state>/s3proxy/data`; returns its pid."""
    s3 = _s3(settings)
    process.require_free_ports("s3proxy", BIND_HOST, {"s3.port": s3.port}, CONF_HINT)
    props = prepare(settings, creds)
    return process.start_detached(handle(settings), command(settings, props))


def enabled(settings: Settings) -> bool:
    """True when this profile's stack runs its own object store."""
    return settings.s3 is not None and settings.s3.embedded
