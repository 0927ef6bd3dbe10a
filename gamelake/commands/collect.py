"""`gamelake collect`: the HTTP collector (gamelake/collector.py) on the profile's Kafka."""

from __future__ import annotations

import logging
import socket

import typer

from gamelake.keys import DEFAULT_BURST, DEFAULT_RATE_PER_S

log = logging.getLogger("gamelake")

PRODUCERS = ("confluent", "kafka-python")


def _require_free_port(host: str, port: int) -> None:
    from gamelake.errors import GamelakeError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise GamelakeError(
                f"cannot listen on {host}:{port}: {exc}", fix="pick another --port"
            ) from exc


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8088, help="Port to listen on."),
        producer: str = typer.Option("confluent", help="Kafka client: confluent | kafka-python."),
        access_log: bool = typer.Option(True, help="Log one line per request."),
        rate_limit: float = typer.Option(
            DEFAULT_RATE_PER_S, "--rate-limit", min=0, help="Requests/s per key (0: no limit)."
        ),
        burst: int = typer.Option(
            DEFAULT_BURST, "--burst", min=1, help="Requests at once per key."
        ),
    ) -> None:
        """Serve POST /v1/events and the seed-003 game API; valid events go to Kafka.

        Every write needs a key (`Authorization: Bearer <key>`, made by `gamelake keys
        create`); /health and /metrics (refused requests) stay open."""
        import uvicorn

        from gamelake.collector import ConfluentSink, KafkaPythonSink, create_app
        from gamelake.contracts import load_contracts
        from gamelake.errors import GamelakeError
        from gamelake.kafka_io import ensure_family_topics
        from gamelake.keys import KeyRing, RateLimiter, key_store_path
        from gamelake.pipeline import load_pipeline_conf
        from gamelake.secrets import declared_secrets, load_policy

        if producer not in PRODUCERS:
            raise GamelakeError(f"unknown producer {producer!r}", fix=f"one of: {PRODUCERS}")
        settings = ctx.obj
        pipeline = load_pipeline_conf(settings.paths.conf)
        contracts = load_contracts(settings.paths.conf / "contracts")
        bootstrap = settings.kafka.bootstrap_servers
        _require_free_port(host, port)
        # The broker does not auto-create topics: a record for a missing one would hang.
        created = ensure_family_topics(settings)
        if created:
            log.info("created topics: %s", ", ".join(created))
        keys = KeyRing(key_store_path(settings.paths.state))
        if not keys.active:
            log.warning(
                "no active key in %s: every write is refused (401) until "
                "`gamelake keys create --source NAME` makes one (no restart needed)",
                keys.path,
            )
        limit = pipeline.max_record_bytes
        sink = (
            ConfluentSink(bootstrap, **{"message.max.bytes": limit})
            if producer == "confluent"
            else KafkaPythonSink(bootstrap, max_request_size=limit)
        )
        sink.check()
        collector_app = create_app(
            contracts, sink, pipeline.topic_for, pipeline.rejects_topic, health_check=sink.check,
            secrets=load_policy(settings.paths.conf, declared_secrets(contracts)),
            keys=keys, rate_limiter=RateLimiter(rate_limit, burst), max_record_bytes=limit,
        )  # fmt: skip
        log.info(
            "collector on http://%s:%d (docs at /docs) -> Kafka %s, rejects to %s; "
            "%d active keys, %g requests/s per key (burst %d)",
            host, port, bootstrap, pipeline.rejects_topic, len(keys.active), rate_limit, burst,
        )  # fmt: skip
        try:
            uvicorn.run(collector_app, host=host, port=port, access_log=access_log)
        finally:
            sink.close()
