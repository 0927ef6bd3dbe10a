"""Pipeline job: bronze, silver and gold in one Spark application (one JVM for a 2-core laptop).

    .venv/bin/gamelake spark-conf
    .venv/bin/spark-submit --properties-file .gamelake/spark/local.conf jobs/pipeline.py --once

or `gamelake run --once` (drain Kafka, then stop) / `gamelake run` (keep streaming).
With --once the stages run one after the other, so silver sees everything bronze landed and
gold everything silver wrote; the last stage (gold_batch) rebuilds the batch gold tables.
Silver batches and batch gold tables pass the quality gates of conf/rules (--no-gates: not).
Otherwise the streams run side by side until stopped: a gold stream starts once its silver
table exists and runs every --gold-trigger-interval (default: --trigger-interval), and batch
gold is rebuilt every --gold-batch-every seconds.
"""

from __future__ import annotations

import argparse
import sys

from gamelake import jobargs
from gamelake.jobcontext import resolve
from gamelake.jobgates import publish_gate_of, silver_gate_of
from gamelake.jobmain import run_job
from gamelake.stage_runs import run_once, run_streaming
from gamelake.stages import STAGES, open_stages


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = jobargs.stream_parser("pipeline", __doc__.splitlines()[0])
    jobargs.add_kafka_args(parser)
    jobargs.add_silver_args(parser)
    jobargs.add_gate_args(parser)
    jobargs.add_gold_args(parser)
    parser.add_argument("--stages", default=",".join(STAGES),
                        help=f"comma list of stages to run, of {', '.join(STAGES)}")  # fmt: skip
    parser.add_argument("--gold-batch-every", type=float, default=600.0,
                        help="seconds between batch gold rebuilds (0: never)")  # fmt: skip
    args = parser.parse_args(argv)
    args.stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    return args


def run(args: argparse.Namespace) -> int:
    job = resolve(args)
    silver_gate = silver_gate_of(job, args.gates)
    publish_gate = publish_gate_of(job.settings, args.gates)
    stages = open_stages(job, "gamelake-pipeline", silver_gate, publish_gate)
    if job.options.once:
        return run_once(stages, args.stages)
    run_streaming(stages, args.stages, args.gold_batch_every)
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_job(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
