"""`gamelake collect`: the HTTP collector (gamelake/collector/) on the profile's Kafka."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

import typer

from gamelake.keys import DEFAULT_BURST, DEFAULT_RATE_PER_S

if TYPE_CHECKING:
    from gamelake.config import Settings
    from gamelake.keys import KeyRing, RateLimiter
    from gamelake.producer import KafkaProducer

log = logging.getLogger("gamelake")


def _require_free_port(host: str, port: int) -> None:
    from gamelake.errors import GamelakeError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise GamelakeError(
                f"cannot listen on {host}:{port}: {exc}", fix="pick another --port"
            ) from exc


def _collector_app(
    settings: Settings, producer: KafkaProducer, limiter: RateLimiter
) -> tuple[Any, KeyRing]:
    """The collector's ASGI app on the profile's contracts, topics, secret policy and keys,
    and its key ring."""
    from gamelake.collector.app import create_app
    from gamelake.contracts import load_contracts
    from gamelake.conventions import load_pipeline_conf
    from gamelake.kafka_io import ensure_family_topics
    from gamelake.keys import KeyRing, key_store_path
    from gamelake.secrets import declared_secrets, load_policy

    pipeline = load_pipeline_conf(settings.paths.conf)
    contracts = load_contracts(settings.paths.conf / "contracts")
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
    collector_app = create_app(
        contracts, producer, pipeline.topic_for, pipeline.rejects_topic,
        health_check=producer.check,
        secrets=load_policy(settings.paths.conf, declared_secrets(contracts)),
        keys=keys, rate_limiter=limiter, max_record_bytes=pipeline.max_record_bytes,
    )  # fmt: skip
    return collector_app, keys


def register(app: typer.Typer) -> None:
    @app.command()
    def collect(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8088, help="Port to listen on."),
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

        from gamelake.conventions import load_pipeline_conf
        from gamelake.keys import RateLimiter
        from gamelake.producer import REQUEST_SETTINGS, KafkaProducer

        settings = ctx.obj
        pipeline = load_pipeline_conf(settings.paths.conf)
        bootstrap = settings.kafka.bootstrap_servers
        _require_free_port(host, port)
        producer = KafkaProducer(
            bootstrap, "gamelake-collector", REQUEST_SETTINGS, pipeline.max_record_bytes
        )
        producer.check()
        collector_app, keys = _collector_app(settings, producer, RateLimiter(rate_limit, burst))
        log.info(
            "collector on http://%s:%d (docs at /docs) -> Kafka %s, rejects to %s; "
            "%d active keys, %g requests/s per key (burst %d)",
            host, port, bootstrap, pipeline.rejects_topic,
            len(keys.active), rate_limit, burst,
        )  # fmt: skip
        try:
            uvicorn.run(collector_app, host=host, port=port, access_log=access_log)
        finally:
            producer.close()
