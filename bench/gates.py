"""Quality-gate cost: the whole pipeline with conf/rules vs without, and GX suite time vs
batch size.

1. Pipeline overhead: N generated events are produced once to private topics; then
   `spark-submit jobs/pipeline.py --once` (bronze, silver, streaming gold, batch gold: what
   `gamelake run --once` runs) lands them in a fresh private lake with the gates (the
   default) and with `--no-gates`, alternating, `--repeat` times each. Micro-batches are the
   profile's (conf/env streams: bounded bites of a backlog). The overhead is
   min(gated) / min(ungated) - 1 (target <= 10%); seconds per stage come from the job's log.
2. Suite time vs batch size: silver.player_activity-shaped frames of growing size (cached);
   the native row pass (apply_row_rules + one counting job), the GX suite on GX's pandas
   engine (what the gate uses) and the same suite on GX's Spark engine.
Writes bench/results/gates.json.

    .venv/bin/python -m bench gates [--events 1000000] [--sizes 10000,100000,1000000]
        [--repeat 1] [--skip-pipeline]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from bench._jobs import run_job
from gamelake import kafka_io
from gamelake.config import load_settings
from gamelake.dq.row import apply_row_rules, row_rule_counts
from gamelake.dq.rules import load_rules
from gamelake.dq.suite import SuiteRunner

RESULTS = Path(__file__).parent / "results" / "gates.json"
TARGET_OVERHEAD = 0.10
# A stage's end as the pipeline job logs it: "<query> done: N records read", "batch gold: ...".
_STAGE_END = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ INFO gamelake\.jobs\.pipeline: "
    r"(?:(\w+) done:|(batch gold):)",
    re.M,
)


def stage_seconds(log: str, started: dt.datetime) -> dict[str, float]:
    """Seconds of each stage of a --once pipeline log, from launch (JVM start in the first).

    The streaming gold queries run side by side and end one after another: one `gold` stage.
    """
    out: dict[str, float] = {}
    previous = started
    for m in _STAGE_END.finditer(log):
        at = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
        query = m.group(2) or ""
        name = "gold_batch" if m.group(3) else "gold" if query.startswith("gold_") else query
        out[name] = round(out.get(name, 0.0) + (at - previous).total_seconds(), 1)
        previous = at
    return out


def run_pipeline(settings, prefix: str, area: Path, gated: bool) -> dict[str, Any]:
    """One `pipeline --once` (gated or --no-gates) into a fresh lake: seconds, per stage."""
    area.mkdir(parents=True)
    log_file = area.parent / f"{area.name}.log"
    # The log's times are the local wall clock, second resolution.
    started = dt.datetime.now().replace(microsecond=0)
    seconds = run_job(
        settings, "pipeline",
        ["--once", "--topic-prefix", prefix, "--lake", str(area / "lake"),
         "--checkpoint-root", str(area / "checkpoints"), *([] if gated else ["--no-gates"])],
        log_file,
    )  # fmt: skip
    log = log_file.read_text(errors="replace")
    return {
        "seconds": round(seconds, 1),
        "stages_s": stage_seconds(log, started),
        "silver_batches": len(re.findall(r"gamelake\.streams: silver batch \d+:", log)),
    }


def pipeline_overhead(settings, events: int, repeat: int, area: Path) -> dict[str, Any]:
    """Seconds of `pipeline --once` with and without the gates over the same Kafka records."""
    from bench.ingest import produce

    prefix = f"bench.gates{area.name[-8:]}."
    runs: dict[str, list[dict[str, Any]]] = {"ungated": [], "gated": []}
    try:
        produced = produce(settings, events, prefix, workers=2)
        print(f"produced {produced['events']} events in {produced['seconds']} s", flush=True)
        for i in range(repeat):
            for kind in ("ungated", "gated"):
                run = run_pipeline(settings, prefix, area / f"{kind}-{i}", kind == "gated")
                runs[kind].append(run)
                print(f"pipeline {kind} run {i}: {json.dumps(run)}", flush=True)
                shutil.rmtree(area / f"{kind}-{i}", ignore_errors=True)
    finally:
        kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)
    return {
        "events": produced["events"],
        "what": "spark-submit jobs/pipeline.py --once (bronze, silver, gold, gold_batch) "
        "with the gates vs --no-gates, each into a fresh lake",
        "runs": runs,
        **overhead_of(runs),
    }


def overhead_of(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The gates' overhead from alternating runs: best against best (the figure judged
    against the target), and the median and each gated/ungated pair beside it, for spread."""
    seconds = {k: [r["seconds"] for r in v] for k, v in runs.items()}
    best = {k: min(v) for k, v in seconds.items()}
    overhead = best["gated"] / best["ungated"] - 1
    median = statistics.median(seconds["gated"]) / statistics.median(seconds["ungated"]) - 1
    pairs = [g / u - 1 for g, u in zip(seconds["gated"], seconds["ungated"], strict=False)]
    return {
        "best_s": best,
        "overhead": round(overhead, 3),
        "overhead_median": round(median, 3),
        "overhead_per_pair": [round(x, 3) for x in pairs],
        "target_overhead": TARGET_OVERHEAD,
        "meets_target": overhead <= TARGET_OVERHEAD,
    }


def _frame(spark, n: int):
    """A silver.player_activity-shaped frame of n rows (cached)."""
    df = spark.range(n).selectExpr(
        "sha2(cast(id as string), 256) as event_id",
        "cast(id % 997 as int) as points",
        "cast(2000 + id % 50 as bigint) as room_id",
        "cast(id % 120 as int) as coord_x",
        "cast(id % 90 as int) as coord_y",
        "timestamp_millis(1717200000000 + id * 100) as event_ts",
        "timestamp_millis(1717200000000 + id * 100 + 5000) as ingested_at",
    )
    df = df.persist()
    df.count()
    return df


def _best(fn, repeat: int) -> float:
    """The fastest of `repeat` timed calls (the machine is shared: the minimum is the cost)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _measure(df, n, rules, on_pandas, on_spark, repeat: int) -> dict[str, Any]:
    def row_pass():
        return row_rule_counts(apply_row_rules(df, rules), rules)

    return {
        "rows": n,
        "plain_scan_s": round(_best(lambda: df.agg(F.count("*")).collect(), repeat), 2),
        "row_rules_native_s": round(_best(row_pass, repeat), 2),
        "gx_pandas_s": round(_best(lambda: on_pandas.run(df, rules, rows=n), repeat), 2),
        "gx_spark_s": round(_best(lambda: on_spark.run(df, rules, rows=n), 1), 2),
    }


def suite_scaling(spark, settings, sizes: list[int], repeat: int) -> list[dict[str, Any]]:
    """Seconds of the row pass and of the GX suite (pandas and Spark engines) per batch size."""
    rules = load_rules(settings.paths.conf / "rules")["silver.player_activity"]
    on_pandas, on_spark = SuiteRunner(), SuiteRunner(max_pandas_rows=0)
    out = []
    for n in sizes:
        df = _frame(spark, n)
        # Warm-up: GX imports, Spark code generation.
        on_pandas.run(df, rules, rows=n)
        row_rule_counts(apply_row_rules(df, rules), rules)
        row = _measure(df, n, rules, on_pandas, on_spark, repeat)
        df.unpersist()
        print(json.dumps(row), flush=True)
        out.append(row)
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench gates", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=1, help="pipeline runs of each kind")
    parser.add_argument("--skip-pipeline", action="store_true", help="only the suite scaling")
    parser.add_argument("--env", default=os.environ.get("GAMELAKE_ENV", "local"))
    args = parser.parse_args(argv)

    from gamelake.spark import build_session

    settings = load_settings(args.env)
    area = settings.paths.state / "bench" / f"gates-{uuid.uuid4().hex[:8]}"
    area.mkdir(parents=True)
    try:
        # The suite part's session is stopped before the pipelines run: they get the cores.
        spark = build_session(settings, app_name="bench-gates")
        spark.sparkContext.setLogLevel("ERROR")
        try:
            sizes = [int(s) for s in args.sizes.split(",")]
            scaling = suite_scaling(spark, settings, sizes, args.repeat)
        finally:
            spark.stop()
        overhead = (
            {"skipped": "--skip-pipeline"}
            if args.skip_pipeline
            else pipeline_overhead(settings, args.events, args.repeat, area)
        )
    finally:
        shutil.rmtree(area, ignore_errors=True)
    result = {
        "benchmark": "gates",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pipeline": overhead,
        "suite_vs_batch_size": scaling,
        "rules": "conf/rules (silver.player_activity for the scaling part)",
        "settings": {
            "env": args.env,
            "cpus": os.cpu_count(),
            "driver_memory": settings.spark.driver_memory,
            "streams": dataclasses.asdict(settings.streams),
        },
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({"pipeline": overhead, "suite_vs_batch_size": scaling}))
