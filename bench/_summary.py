"""bench/results/SUMMARY.md and its PNG plots, from the scenario JSON files only (nothing is
re-measured, so it can be rerun at will): a table per scenario and plots of ingest per stage,
freshness percentiles, per-query latency, gates overhead and the baselines' ratios.

    .venv/bin/python -m bench._summary [--results bench/results]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def load(results: Path) -> dict[str, dict[str, Any]]:
    """Every scenario's JSON result by scenario name (files that do not parse are skipped)."""
    out = {}
    for f in sorted(results.glob("*.json")):
        try:
            out[f.stem] = json.loads(f.read_text())
        except ValueError:
            continue
    return out


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A markdown table."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _meta(r: dict[str, Any]) -> str:
    load_avg = r.get("load_average_1m")
    return (
        f"_measured {r.get('measured_at', '?')}"
        + (
            f", load average {load_avg} on {r.get('settings', {}).get('cpus', '?')} cpus"
            if load_avg is not None
            else ""
        )
        + "_"
    )


# --- one section (markdown, and the plot it draws) per scenario ---------------------------------


def ingest(r: dict[str, Any], plt) -> tuple[str, str | None]:
    stages = r.get("stages", {})
    rows = [
        [
            s,
            v.get("seconds"),
            v.get("seconds_in_batches"),
            v.get("startup_and_teardown_s"),
            v.get("batches_run", len(v.get("batches", []))),
        ]
        for s, v in stages.items()
    ]
    shared = r.get("shared_startup_and_teardown_s")
    if shared is not None:
        rows.append(["(one JVM: start + teardown)", shared, "-", shared, "-"])
    md = [
        f"{r.get('events'):,} events, {r.get('events_per_s'):,} events/s end to end "
        f"({r.get('events_per_s_in_batches') or '-'} in batches; target "
        f"{r.get('target_events_per_s'):,}). Run as: "
        f"{(r.get('settings') or {}).get('stages', 'one JVM per stage')}.",
        "",
        table(["stage", "seconds", "in batches s", "startup+teardown s", "batches"], rows),
    ]
    rss = (r.get("peak_rss_mb") or {}).get("processes")
    if rss:
        md += [
            "",
            "Peak memory during the stages:",
            "",
            table(
                ["process", "peak RSS sampled (MB)", "VmHWM (MB)"],
                [[n, v["peak_rss_sampled_mb"], v["vm_hwm_mb"]] for n, v in rss.items()],
            ),
        ]
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(stages)
    in_batches = [stages[s].get("seconds_in_batches") or 0 for s in names]
    overhead = [stages[s].get("startup_and_teardown_s") or 0 for s in names]
    if shared is not None:
        names, in_batches, overhead = [*names, "one JVM"], [*in_batches, 0], [*overhead, shared]
    ax.barh(names, in_batches, label="in batches")
    ax.barh(names, overhead, left=in_batches, label="JVM start + teardown")
    ax.set_xlabel("seconds")
    ax.set_title(f"ingest, {r.get('events'):,} events: seconds per stage")
    ax.legend()
    return "\n".join(md), _save(fig, "ingest.png", plt)


def _targets(target: float | dict[str, float]) -> str:
    """'<= N s', or per table when the results name one target per table."""
    if isinstance(target, dict):
        return ", ".join(f"{table} <= {s:g} s" for table, s in target.items())
    return f"<= {target:g} s"


def freshness(r: dict[str, Any], plt) -> tuple[str, str | None]:
    runs = r.get("runs") or [r]  # older results: one rate per file
    rows, labels, series = [], [], {"p50_s": [], "p95_s": [], "p99_s": [], "max_s": []}
    for run in runs:
        for name, t in (run.get("tables") or {}).items():
            rows.append(
                [
                    name,
                    run.get("rate_asked"),
                    (run.get("produced") or {}).get("rate"),
                    f"{t.get('markers_seen')}/{t.get('markers_sent')}",
                    t.get("p50_s"),
                    t.get("p95_s"),
                    t.get("p99_s"),
                    t.get("max_s"),
                    t.get("p50_first_quarter_s"),
                    t.get("p50_last_quarter_s"),
                    {True: "yes", False: "no"}.get(t.get("kept_up"), ""),
                    t.get("behind_at_end_s"),
                ]
            )
            labels.append(f"{name} @ {run.get('rate_asked', '?'):,.0f}/s")
            for k in series:
                series[k].append(t.get(k) or 0)
    header = ["table", "rate asked/s", "rate produced/s", "markers seen/sent", "p50 s", "p95 s",
              "p99 s", "max s", "p50 first ¼ s", "p50 last ¼ s", "kept up",
              "behind at end s"]  # fmt: skip
    md = (
        f"Target p95 {_targets(r.get('target_p95_s', 5))} at {r.get('target_rate', 10000):,} "
        "events/s. "
        "Percentiles are over the markers seen. 'Kept up': every marker seen, and the median "
        "latency of the last quarter of the markers no more than 10 s above the first "
        "quarter's (a backlog that does not grow). 'Behind at end' is the age of the oldest "
        "marker still unseen when the run ended.\n\n" + table(header, rows)
    )
    warm = [(run.get("rate_asked"), run["warm_up"]) for run in runs if run.get("warm_up")]
    if warm:
        md += (
            "\n\nEach rate was measured with the streaming app warm. Before it, the app, just "
            f"started, got {warm[0][1]['seconds']:g} s of production at the same rate; its "
            "latencies then (a cold start) and how long it took to catch up:\n\n"
        )
        watched = list(warm[0][1]["tables"])
        md += table(
            ["rate asked/s", "caught up after production, s",
             *(f"{name} p95 s (cold)" for name in watched)],
            [[rate, w["caught_up_after_s"] if w["caught_up"] else "not within the drain",
              *(w["tables"][name].get("p95_s") for name in watched)] for rate, w in warm],
        )  # fmt: skip
    batch_rows = [
        [run.get("rate_asked"), query, b["batches"], b["rows"], b["ms_median"], b["ms_max"],
         b["ms_total"]]
        for run in runs
        for query, b in (run.get("batches") or {}).items()
    ]  # fmt: skip
    if batch_rows:
        batch_header = ["rate asked/s", "query", "batches", "rows", "median ms", "max ms",
                        "total ms"]  # fmt: skip
        md += "\n\nThe streams' micro-batches that read rows" + (
            " while the measured events were produced and drained:\n\n"
            if warm
            else " (warm-up pass included):\n\n"
        )
        md += table(batch_header, batch_rows)
    if not any(any(v) for v in series.values()):  # no marker seen: nothing to draw
        return md, None
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.6 * len(labels)))
    height = 0.8 / len([k for k in series if any(series[k])] or [1])
    for i, (k, values) in enumerate((k, v) for k, v in series.items() if any(v)):
        ax.barh([j + i * height for j in range(len(labels))], values, height, label=k)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("seconds from produce to visible in Trino")
    ax.set_title("freshness percentiles (markers seen)")
    ax.legend()
    return md, _save(fig, "freshness.png", plt)


def queries(r: dict[str, Any], plt) -> tuple[str, str | None]:
    qs = r.get("queries", {})
    rows = [
        [
            q,
            v.get("median_s"),
            v.get("min_s"),
            v.get("max_s"),
            v.get("rows"),
            (v.get("error") or "")[:80],
        ]
        for q, v in sorted(qs.items())
    ]
    md = (
        f"Lake of {r.get('events') or r.get('bronze_rows')} events (target "
        f"{r.get('target_events') or '-'}).\n\n"
        + table(["question", "median s", "min s", "max s", "rows", "error"], rows)
    )
    ok = [(q, v["median_s"]) for q, v in sorted(qs.items()) if v.get("median_s") is not None]
    if not ok:
        return md, None
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.3 * len(ok)))
    ax.barh([q for q, _ in ok], [s for _, s in ok])
    ax.invert_yaxis()
    ax.set_xlabel("median seconds (Trino)")
    ax.set_title("per-query latency")
    return md, _save(fig, "queries.png", plt)


def gates(r: dict[str, Any], plt) -> tuple[str, str | None]:
    p = r.get("pipeline") or {}
    md = []
    if "runs" in p:
        md += [
            f"`pipeline --once` with vs without the gates over {p.get('events'):,} events: "
            f"overhead {p['overhead']:.1%} of the pipeline's time, best run against best run "
            f"(target {p.get('target_overhead', 0.1):.0%})"
            + (
                f"; median against median {p['overhead_median']:.1%}, pair by pair "
                + ", ".join(f"{x:+.1%}" for x in p["overhead_per_pair"])
                if "overhead_median" in p
                else ""
            )
            + ".",
            "",
            table(
                ["run", "seconds", "silver batches", "seconds per stage"],
                [
                    [
                        kind,
                        run["seconds"],
                        run.get("silver_batches"),
                        ", ".join(f"{k} {v:g}" for k, v in (run.get("stages_s") or {}).items()),
                    ]
                    for kind, kind_runs in p["runs"].items()
                    for run in kind_runs
                ],
            ),
            "",
        ]
    elif "overhead" in p:  # older results: the silver stage only
        md += [
            f"Silver with vs without the gate over {p.get('events'):,} events: overhead "
            f"{p['overhead']:.1%} (target {p.get('target_overhead', 0.1):.0%}); runs (s): "
            f"{p.get('silver_s')}.",
            "",
        ]
    else:
        md += [f"Pipeline overhead: {p.get('skipped') or 'not measured'}.", ""]
    scale = r.get("suite_vs_batch_size") or []
    keys = [k for k in (scale[0] if scale else {}) if k != "rows"]
    md.append(table(["rows", *keys], [[s.get("rows"), *[s.get(k) for k in keys]] for s in scale]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    if "runs" in p:
        kinds = list(p["runs"])
        # In pipeline order, as the job logged them.
        stages = list(
            dict.fromkeys(s for k in kinds for run in p["runs"][k] for s in run.get("stages_s", {}))
        )
        best = {k: min(p["runs"][k], key=lambda run: run["seconds"]) for k in kinds}
        left = [0.0] * len(kinds)
        for stage in stages:
            widths = [best[k].get("stages_s", {}).get(stage, 0) for k in kinds]
            axes[0].barh(kinds, widths, left=left, label=stage)
            left = [a + b for a, b in zip(left, widths, strict=True)]
        axes[0].set_xlabel("seconds (best run)")
        axes[0].set_title(f"pipeline --once, gate overhead {p['overhead']:.0%}", pad=24)
        axes[0].legend(fontsize=7, loc="lower center", ncol=len(stages), bbox_to_anchor=(0.5, 1.1))
    else:
        axes[0].set_axis_off()
    for k in keys:
        axes[1].plot([s["rows"] for s in scale], [s.get(k) for s in scale], marker="o", label=k)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("rows per batch")
    axes[1].set_ylabel("seconds")
    axes[1].set_title("suite time vs batch size")
    if keys:
        axes[1].legend(fontsize=7)
    return "\n".join(md), _save(fig, "gates.png", plt)


def baselines(r: dict[str, Any], plt) -> tuple[str, str | None]:
    b = r.get("baselines", {})
    ratios = r.get("ratio_gamelake_to_baseline", {})
    g = r.get("gamelake_ingest") or {}
    rows = [
        [
            n,
            v.get("events"),
            v.get("seconds"),
            v.get("events_per_s"),
            (ratios.get(n) or {}).get("gamelake_end_to_end"),
            (ratios.get(n) or {}).get("gamelake_in_batches"),
            v.get("what"),
        ]
        for n, v in b.items()
    ]
    md = (
        f"Same generated events ({r.get('events'):,}). gamelake ingest: "
        f"{g.get('events_per_s')} events/s end to end, {g.get('events_per_s_in_batches')} in "
        f"batches (bench/results/ingest.json, {g.get('events')} events, "
        f"{g.get('measured_at')}).\n\n"
        + table(
            [
                "baseline",
                "events",
                "seconds",
                "events/s",
                "gamelake/baseline (e2e)",
                "gamelake/baseline (in batches)",
                "what",
            ],
            rows,
        )
    )
    named = [(n, (ratios.get(n) or {}).get("gamelake_end_to_end")) for n in b]
    named = [(n, v) for n, v in named if v is not None]
    if not named:
        return md, None
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.barh([n for n, _ in named], [v for _, v in named])
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", linestyle="--")
    ax.set_xlabel("gamelake ingest events/s ÷ baseline events/s (log)")
    ax.set_title("gamelake vs baselines")
    return md, _save(fig, "baselines.png", plt)


def generator(r: dict[str, Any], plt) -> tuple[str, str | None]:
    rows = [
        [n, v.get("events"), v.get("seconds"), v.get("events_per_s")]
        for n, v in (r.get("scenarios") or {}).items()
    ]
    return (
        f"{r.get('events_per_s'):,} events/s into Kafka with {r.get('client')} "
        f"(target {r.get('target_events_per_s'):,}).\n\n"
        + table(["scenario", "events", "seconds", "events/s"], rows)
    ), None


def microbatch(r: dict[str, Any], plt) -> tuple[str, str | None]:
    rows = [
        [s["rows_per_batch"], s["batches"], s["gated"], s["handler_median_s"], s["handler_max_s"],
         s["bare_median_s"], s["ratio_bare_over_handler"], s["handler_events_per_s"]]
        for s in r["sizes"]
    ]  # fmt: skip
    header = ["rows per batch", "batches", "gated", "handler median s", "handler max s",
              "Spark's pass median s", "Spark's pass / handler", "handler events/s"]  # fmt: skip
    return (
        f"Target: {r.get('target')}. Medians over the batches after the first (which pays "
        "table creation and code generation).\n\n" + table(header, rows)
    ), None


def generic(r: dict[str, Any], plt) -> tuple[str, str | None]:
    flat = [[k, v] for k, v in r.items() if not isinstance(v, dict | list)]
    return table(["key", "value"], flat), None


SECTIONS: dict[str, Callable[..., tuple[str, str | None]]] = {
    "ingest": ingest,
    "freshness": freshness,
    "queries": queries,
    "gates": gates,
    "baselines": baselines,
    "generator": generator,
    "microbatch": microbatch,
}
_OUT: dict[str, Path] = {}


def _save(fig, name: str, plt) -> str:
    fig.tight_layout()
    fig.savefig(_OUT["dir"] / name, dpi=100)
    plt.close(fig)
    return name


def write_summary(results: Path) -> Path:
    """Write SUMMARY.md (and the PNGs) beside the JSON results; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    _OUT["dir"] = results
    found = load(results)
    md = [
        "# gamelake benchmark results",
        "",
        "Generated by `python -m bench._summary` from the JSON files in this folder (`make "
        "bench` reruns every scenario, bounded in size, then this). Each scenario records "
        "when it ran and the machine's load: on a shared 2-core machine the numbers are "
        "noisy and comparable only within one run.",
        "",
    ]
    for name, r in found.items():
        md += [f"## {name}", "", _meta(r), ""]
        try:
            text, png = SECTIONS.get(name, generic)(r, plt)
        except (KeyError, TypeError, ValueError) as exc:  # a result of another shape
            text, png = f"(cannot summarise: {exc!r})\n\n" + generic(r, plt)[0], None
        md += [text, ""]
        if png:
            md += [f"![{name}]({png})", ""]
    out = results / "SUMMARY.md"
    out.write_text("\n".join(md))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench._summary", description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    print(write_summary(args.results))


if __name__ == "__main__":
    main()
