"""`make bench-serve`: the scoring service against `mlflow models serve`, side by side.

One run on 127.0.0.1: trains a demo model when the work folder has none, starts
`leadscore serve` and `mlflow models serve` on the same registered model, and drives each with
a bounded closed-loop load (C concurrent keep-alive clients for D seconds): one lead with 30
activities (with and without reasons), 100 leads per request, and a long run that samples the
service's memory. With `--baseline REV` it also serves the same model with the code of git
revision REV (unpacked from the repository into the work folder, run with this venv) and loads
the two in turns (A B B A ...), so both see the same machine load: the ratios say whether a
change moved a figure, on a machine too busy for the absolute figures to mean much. It also
measures each server's CPU time per request (one request at a time), which load hardly moves. Load
comes from wrk when it is installed (it costs the 2 cores least), otherwise from the asyncio
client below. Figures go to stdout as a markdown table and, with --json, to a file (for
docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from http_load import (
    LoadResult,
    combine,
    cpu_ms_per_request,
    free_port,
    run_load,
    start,
    stop,
    tree_rss_mib,
)

from models.registry import CHAMPION, DEFAULT_MODEL_NAME, alias_uri

ROOT = Path(__file__).resolve().parent.parent
MODEL_URI = alias_uri(DEFAULT_MODEL_NAME, CHAMPION)
TARGETS = {
    "one lead, reasons": "≥ 600 req/s, p99 ≤ 25 ms",
    "one lead, explain=false": "≥ 1,500 req/s, p99 ≤ 10 ms",
    "100 leads, reasons": "≥ 15,000 leads/s",
}


# ---------------------------------------------------------------- model and servers
def ensure_model(workdir: Path, n_leads: int) -> Path:
    """The demo export in `workdir`, trained and registered there when it is not yet."""
    data = workdir / "demo"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}"}
    if not (workdir / "mlflow.db").exists():
        cli = [sys.executable, "-m", "cli.main"]
        subprocess.run(
            [*cli, "demo-data", "--out", str(data), "--leads", str(n_leads)],
            cwd=workdir, env=env, check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [*cli, "train", "--data", str(data)],
            cwd=workdir, env=env, check=True, capture_output=True,
        )  # fmt: skip
    return data


def request_bodies(data: Path) -> dict[str, Any]:
    """One lead with 30 activities, and 100 leads, as of the export's cut-off."""
    sys.path.insert(0, str(ROOT))
    from training.export import read_export
    from training.tracking import lead_records

    export = read_export(data).export
    as_of = export.cutoff
    acts = export.activities[export.activities["occurred_at"] < as_of]
    counts = acts["lead_id"].value_counts()
    busy = counts[counts >= 30].index.tolist()
    records = lead_records(export, busy[:100], as_of)
    records["activities"] = [a[-30:] for a in records["activities"]]
    leads = [
        {k: v for k, v in r.items() if v is not None and not (isinstance(v, float) and v != v)}
        for r in records.to_dict(orient="records")
    ]
    stamp = f"{as_of:%Y-%m-%dT%H:%M:%SZ}"
    one = leads[0]
    return {
        "one": json.dumps({"leads": [one], "as_of": stamp}).encode(),
        "one_fast": json.dumps({"leads": [one], "as_of": stamp, "explain": False}).encode(),
        "hundred": json.dumps({"leads": leads, "as_of": stamp}).encode(),
        "mlflow_one": json.dumps(
            {"dataframe_records": [one], "params": {"as_of": stamp, "explain": True}}
        ).encode(),
        "n_activities": len(one["activities"]),
        "n_leads": len(leads),
    }


def soak(
    process: Any, port: int, body: bytes, concurrency: int, seconds: float, tool: str, workdir: Path
) -> tuple[LoadResult, list[float]]:
    """A long load while sampling the service's resident memory every second."""
    samples: list[float] = []
    done = False

    async def sample() -> None:
        while not done:
            samples.append(tree_rss_mib(process.pid))
            await asyncio.sleep(1.0)

    async def both() -> LoadResult:
        nonlocal done
        sampler = asyncio.create_task(sample())
        result = await asyncio.to_thread(
            run_load, "one lead, reasons (soak)", "leadscore", port, "/score", body, 1,
            concurrency, seconds, tool, workdir,
        )  # fmt: skip
        done = True
        await sampler
        return result

    return asyncio.run(both()), samples


BASELINE = "baseline"
# name, request body, leads per request (0: the 100-lead body's count)
SCENARIOS = (
    ("one lead, reasons", "one", 1),
    ("one lead, explain=false", "one_fast", 1),
    ("100 leads, reasons", "hundred", 0),
)


def start_baseline(
    revision: str, env: dict[str, str], workers: int, scratch: Path
) -> tuple[Any, int, float, str, Path]:
    """`leadscore serve` of git revision `revision` on the same registered model, on a free
    port; (process, port, seconds to ready, the commit, the code's folder). The code is
    unpacked into a temporary folder outside the checkout (linters and tests must not find
    it); the caller removes it once the server has stopped."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", revision],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    code = Path(tempfile.mkdtemp(prefix=f"leadscore-baseline-{commit}-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    port = free_port()
    command = [
        sys.executable, "-m", "cli.main", "serve", "--port", str(port),
        "--workers", str(workers), "--model", MODEL_URI,
    ]  # fmt: skip
    try:
        process, startup = start(
            command,
            {**env, "PYTHONPATH": str(code)},
            f"http://127.0.0.1:{port}/readyz",
            scratch / "baseline.log",
            cwd=code,
        )
    except Exception:
        shutil.rmtree(code, ignore_errors=True)
        raise
    return process, port, startup, commit, code


def markdown(results: list[LoadResult], extra: dict[str, Any]) -> str:
    lines = [
        "| scenario | server | clients | req/s | leads/s | p50 ms | p90 ms | p99 ms | errors "
        "| target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.server} | {r.concurrency} | {r.requests_per_s:,.0f} | "
            f"{r.leads_per_s:,.0f} | {r.p50_ms:.1f} | {r.p90_ms:.1f} | {r.p99_ms:.1f} | "
            f"{r.errors} | {TARGETS.get(r.name, '') if r.server == 'leadscore' else ''} |"
        )
    lines.append("")
    lines += [f"- {k}: {v}" for k, v in extra.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="Keeps the demo model.")
    parser.add_argument("--leads", type=int, default=8_000, help="Demo world size.")
    parser.add_argument("--seconds", type=float, default=15.0, help="Per scenario.")
    parser.add_argument("--soak-seconds", type=float, default=60.0, help="Memory run.")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="leadscore serve --workers.")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--json", type=Path, default=None, help="Write the figures here.")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument(
        "--baseline",
        default=None,
        help="A git revision to serve beside this code, loaded in turns with it.",
    )
    parser.add_argument(
        "--baseline-repeats",
        type=int,
        default=2,
        help="Turns per server when comparing with --baseline; --seconds is split between them.",
    )
    args = parser.parse_args(argv)
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")

    # Absolute: the demo and training subprocesses run inside it.
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="leadscore-bench-serve-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-serve-", dir=workdir))
    print(f"model and logs in {workdir}; load from {tool}", flush=True)
    bodies = request_bodies(ensure_model(workdir, args.leads))
    tracking = f"sqlite:///{workdir / 'mlflow.db'}"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking,
        "LEADSCORE_STATS_SECONDS": "3600",
        "PYTHONPATH": str(ROOT),
        # `mlflow models serve` execs uvicorn by name: the venv's bin must be on PATH even when
        # this script runs as .venv/bin/python rather than through `uv run`.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    env.pop("LEADSCORE_API_TOKEN", None)
    results: list[LoadResult] = []
    comparison: dict[str, dict[str, float]] = {}
    extra: dict[str, Any] = {
        "load average before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cores": os.cpu_count(),
        "leadscore workers": args.workers,
        "one lead's activities": bodies["n_activities"],
    }

    port = free_port()
    command = [
        sys.executable, "-m", "cli.main", "serve", "--port", str(port),
        "--workers", str(args.workers), "--model", MODEL_URI,
    ]  # fmt: skip
    process, startup = start(command, env, f"http://127.0.0.1:{port}/readyz", scratch / "ls.log")
    extra["leadscore start-up to ready (s)"] = round(startup, 2)
    baseline = None
    baseline_code: Path | None = None
    if args.baseline:
        baseline, baseline_port, baseline_startup, commit, baseline_code = start_baseline(
            args.baseline, env, args.workers, scratch
        )
        extra["baseline commit"] = commit
        extra["baseline start-up to ready (s)"] = round(baseline_startup, 2)
    try:
        for name, key, leads in SCENARIOS:
            body, n = bodies[key], (leads or bodies["n_leads"])
            # A short warm-up, so both workers have built their first batch.
            run_load(name, "leadscore", port, "/score", body, n, args.clients, 2, tool, scratch)
            if baseline is None:
                result = run_load(
                    name, "leadscore", port, "/score", body, n, args.clients,
                    args.seconds, tool, scratch,
                )  # fmt: skip
                results.append(result)
                print(asdict(result), flush=True)
                continue
            run_load(
                name, BASELINE, baseline_port, "/score", body, n, args.clients, 2, tool, scratch
            )
            runs: dict[str, list[LoadResult]] = {"leadscore": [], BASELINE: []}
            for repeat in range(args.baseline_repeats):
                order = [("leadscore", port), (BASELINE, baseline_port)]
                for server, server_port in order if repeat % 2 == 0 else order[::-1]:
                    result = run_load(
                        name, server, server_port, "/score", body, n, args.clients,
                        args.seconds / args.baseline_repeats, tool, scratch,
                    )  # fmt: skip
                    runs[server].append(result)
                    print(asdict(result), flush=True)
            ours, theirs = combine(runs["leadscore"]), combine(runs[BASELINE])
            results += [ours, theirs]
            cpu: dict[str, list[float]] = {"leadscore": [], BASELINE: []}
            requests = max(200, 1_500 // n)
            for repeat in range(args.baseline_repeats):
                order = [("leadscore", process, port), (BASELINE, baseline, baseline_port)]
                for server, server_process, server_port in (
                    order if repeat % 2 == 0 else order[::-1]
                ):
                    cpu[server].append(
                        cpu_ms_per_request(
                            server_process.pid, server_port, "/score", body, requests
                        )
                    )
            comparison[name] = {
                "this / baseline throughput": round(
                    ours.requests_per_s / max(theirs.requests_per_s, 1e-9), 2
                ),
                "this / baseline p99": round(ours.p99_ms / max(theirs.p99_ms, 1e-9), 2),
                "CPU ms per request, this": round(float(np.mean(cpu["leadscore"])), 3),
                "CPU ms per request, baseline": round(float(np.mean(cpu[BASELINE])), 3),
            }
        if baseline is not None:
            stop(baseline)
            baseline = None
        if args.soak_seconds > 0:
            before = tree_rss_mib(process.pid)
            result, samples = soak(
                process, port, bodies["one"], args.clients, args.soak_seconds, tool, scratch
            )
            results.append(result)
            tenth = max(len(samples) // 10, 1)
            extra["memory before soak (MiB)"] = round(before, 1)
            extra["memory, first 10% of soak (MiB)"] = round(float(np.mean(samples[:tenth])), 1)
            extra["memory, last 10% of soak (MiB)"] = round(float(np.mean(samples[-tenth:])), 1)
            extra["memory, max during soak (MiB)"] = round(float(np.max(samples)), 1)
    finally:
        stop(process)
        if baseline is not None:
            stop(baseline)
        if baseline_code is not None:
            shutil.rmtree(baseline_code, ignore_errors=True)

    if not args.skip_mlflow:
        port = free_port()
        command = [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", MODEL_URI,
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip
        process, startup = start(command, env, f"http://127.0.0.1:{port}/ping", scratch / "mf.log")
        extra["mlflow models serve start-up to ready (s)"] = round(startup, 2)
        try:
            run_load("one lead, reasons", "mlflow models serve", port, "/invocations",
                     bodies["mlflow_one"], 1, args.clients, 2, tool, scratch)  # fmt: skip
            result = run_load(
                "one lead, reasons", "mlflow models serve", port, "/invocations",
                bodies["mlflow_one"], 1, args.clients, args.seconds, tool, scratch,
            )  # fmt: skip
            results.append(result)
            print(asdict(result), flush=True)
        finally:
            stop(process)
        ours = next(r for r in results if r.name == "one lead, reasons" and r.server == "leadscore")
        extra["leadscore / mlflow models serve (one lead, reasons)"] = (
            f"{ours.requests_per_s / max(result.requests_per_s, 1e-9):.1f}x"
        )
    extra["load average after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    for name, ratios in comparison.items():
        for label, value in ratios.items():
            extra[f"{name}: {label}"] = f"{value:.2f}"
    report = markdown(results, extra)
    print(report)
    if args.json is not None:
        figures = {"results": [asdict(r) for r in results], "extra": extra}
        args.json.write_text(json.dumps({**figures, "comparison": comparison}, indent=2))
    return 0 if all(r.errors == 0 for r in results) else 1


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    raise SystemExit(main())
