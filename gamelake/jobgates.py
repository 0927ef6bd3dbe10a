"""The quality gates a job runs with: conf/rules' gates, or none with --no-gates."""

from __future__ import annotations

import logging

from gamelake.config import Settings
from gamelake.dq.gate import SilverGate, TableGate, silver_gate, table_gate
from gamelake.dq.suite import warm_up_in_background
from gamelake.jobcontext import JobContext

log = logging.getLogger(__name__)


def silver_gate_of(job: JobContext, gates: bool) -> SilverGate | None:
    """The silver stage's gate from conf/rules (None with --no-gates)."""
    if not gates:
        log.warning("quality gates off (--no-gates): silver batches are not checked")
        return None
    return silver_gate(job.settings.paths.conf, job.lake, "", job.settings.paths.state)


def publish_gate_of(settings: Settings, gates: bool) -> TableGate | None:
    """The gate of tables published whole (batch gold) from conf/rules (None with --no-gates)."""
    if not gates:
        log.warning("quality gates off (--no-gates): gold tables are published unchecked")
        return None
    return table_gate(settings.paths.conf, settings.paths.lake, settings.paths.state)


def warm_up(*gates: SilverGate | TableGate | None) -> None:
    """Start the gates' GX import and contexts in the background, before the Spark session
    is built (None: a gate switched off)."""
    warm_up_in_background([gate.runner for gate in gates if gate is not None])
