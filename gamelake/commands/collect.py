"""`gamelake collect`: the HTTP collector (gamelake/collector.py) on the profile's Kafka."""

from __future__ import annotations

import logging
import socket

import typer

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
    ) -> None:
        """Serve POST /v1/events and the seed-003 game API; valid events go to Kafka."""
        import uvicorn

        from gamelake.collector import ConfluentSink, KafkaPythonSink, create_app
        from gamelake.contracts import load_contracts
        from gamelake.errors import GamelakeError
        from gamelake.kafka_io import ensure_family_topics
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
        sink = ConfluentSink(bootstrap) if producer == "confluent" else KafkaPythonSink(bootstrap)
        sink.check()
        collector_app = create_app(
            contracts, sink, pipeline.topic_for, pipeline.rejects_topic, health_check=sink.check,
            secrets=load_policy(settings.paths.conf, declared_secrets(contracts)),
        )  # fmt: skip
        log.info(
            "collector on http://%s:%d (docs at /docs) -> Kafka %s, rejects to %s",
            host, port, bootstrap, pipeline.rejects_topic,
        )  # fmt: skip
        try:
            uvicorn.run(collector_app, host=host, port=port, access_log=access_log)
        finally:
            sink.close()
