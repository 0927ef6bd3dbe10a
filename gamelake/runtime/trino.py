"""A single-node Trino coordinator with the Delta Lake catalog over the local lake folder."""

from __future__ import annotations

import os
from pathlib import Path

import requests

from gamelake.config import Settings
from gamelake.errors import GamelakeError
from gamelake.runtime import java, process
from gamelake.runtime.artifacts import Layout

CONF_HINT = "conf/env/<profile>.yaml (trino.port)"
# Trino refuses to start below this open-file limit.
MIN_OPEN_FILES = 4096
# Where Trino's file metastore keeps schema/table entries, relative to the lake.
METASTORE_DIR = "_trino_metastore"


def trino_dir(settings: Settings) -> Path:
    return settings.paths.state / "trino"


def handle(settings: Settings) -> process.ServiceHandle:
    return process.ServiceHandle(
        name="trino",
        pid_file=settings.paths.run / "trino.pid",
        log_file=settings.paths.logs / "trino.log",
        marker=str(trino_dir(settings) / "etc"),
    )


def lake_catalog_properties(lake: Path) -> dict[str, str]:
    """The Delta Lake catalog: file metastore and native local filesystem rooted at the lake."""
    return {
        "connector.name": "delta_lake",
        "hive.metastore": "file",
        "hive.metastore.catalog.dir": f"local:///{METASTORE_DIR}",
        "fs.native-local.enabled": "true",
        "local.location": str(lake),
        "delta.register-table-procedure.enabled": "true",
        # Single node, local disk: Trino's own writes (e.g. DDL, OPTIMIZE) need this.
        "delta.enable-non-concurrent-writes": "true",
    }


def catalog_properties(lake: Path) -> str:
    """The catalog file of the profile's lake."""
    return "".join(f"{k}={v}\n" for k, v in lake_catalog_properties(lake).items())


def config_files(settings: Settings) -> dict[str, str]:
    """Every file under etc/, keyed by relative path."""
    t = settings.trino
    headroom_mb = max(256, t.heap_mb // 5)
    per_node_mb = min(t.query_max_memory_mb, t.heap_mb - headroom_mb - 128)
    return {
        "node.properties": "\n".join(
            [
                "node.environment=gamelake",
                "node.id=gamelake-local",
                # Announce loopback: the machine's other addresses may not route to itself.
                f"node.internal-address={t.host}",
                f"node.data-dir={trino_dir(settings) / 'data'}",
                "",
            ]
        ),
        "jvm.config": "\n".join(
            [
                "-server",
                f"-Xmx{t.heap_mb}m",
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
                "",
            ]
        ),
        "config.properties": "\n".join(
            [
                "coordinator=true",
                "node-scheduler.include-coordinator=true",
                f"http-server.http.port={t.port}",
                f"discovery.uri=http://{t.host}:{t.port}",
                f"query.max-memory={per_node_mb}MB",
                f"query.max-memory-per-node={per_node_mb}MB",
                f"memory.heap-headroom-per-node={headroom_mb}MB",
                # Two cores: fewer threads than Trino's per-core defaults.
                "task.concurrency=2",
                "task.max-worker-threads=8",
                # CREATE CATALOG: tests give each private lake its own catalog, so the
                # same schema-qualified queries run against it.
                "catalog.management=dynamic",
                "",
            ]
        ),
        "log.properties": "io.trino=INFO\n",
        f"catalog/{t.catalog}.properties": catalog_properties(settings.paths.lake),
    }


def prepare(settings: Settings) -> Path:
    """Write etc/ for the coordinator; returns the etc directory."""
    etc = trino_dir(settings) / "etc"
    for rel, content in config_files(settings).items():
        target = etc / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    (trino_dir(settings) / "data").mkdir(parents=True, exist_ok=True)
    (settings.paths.lake / METASTORE_DIR).mkdir(parents=True, exist_ok=True)
    return etc


def is_healthy(url: str, timeout_s: float = 2.0) -> bool:
    """True when /v1/info answers and the server is no longer starting."""
    try:
        info = requests.get(f"{url}/v1/info", timeout=timeout_s).json()
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


def start(settings: Settings) -> int:
    """Start the coordinator in the background; returns its pid."""
    layout = Layout(settings.paths, settings.versions)
    launcher = layout.trino_home / "bin" / "launcher"
    if not launcher.is_file():
        raise GamelakeError(
            f"Trino is not installed at {layout.trino_home}", fix="run `make setup`"
        )
    java_home = java.require_java_home(settings.versions.trino_java_min)
    process.require_free_ports(
        "Trino", settings.trino.host, {"trino.port": settings.trino.port}, CONF_HINT
    )
    etc = prepare(settings)
    # The launcher refuses to start while its own pid file names a live pid; after a stop
    # that pid may already belong to another process (or a thread of one).
    (trino_dir(settings) / "data" / "var" / "run" / "launcher.pid").unlink(missing_ok=True)
    _raise_open_file_limit()  # inherited by the child
    env = dict(os.environ)
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
