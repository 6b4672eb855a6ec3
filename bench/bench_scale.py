"""Scale benchmark: train and batch-score demo worlds of growing size, in one process and on
a local Dask cluster; wall time and peak memory per process from `/usr/bin/time -v`.

    python bench/bench_scale.py [--leads 50000,200000,1000000] [--cluster local:2]
                                [--workdir .bench-scale] [--timeout 3600] [--json FILE]

Each world is written once with `leadscore demo-data --format parquet` (partitioned, streamed
in batches of leads) and reused. For every size: `leadscore train` and `leadscore score
--no-reasons --out FOLDER`, without and with `--cluster`. `/usr/bin/time` reports the largest
resident set of the command or any one of its child processes, so with a cluster it is the
largest of the client and the workers: peak memory per process. A run is skipped (and says so)
when the machine's available memory is below `--min-free-gb` before it starts, since the
machine is shared. Prints a markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from models.registry import CHALLENGER, DEFAULT_MODEL_NAME, alias_uri

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    leads: int
    step: str  # train or score
    where: str  # "1 process" or the cluster address
    seconds: float | None
    peak_gb: float | None
    note: str = ""
    open_leads: int | None = None

    @property
    def throughput(self) -> str:
        if self.step != "score" or not self.seconds or not self.open_leads:
            return ""
        return f"{self.open_leads / self.seconds:,.0f} leads/s"


def _leadscore() -> str:
    script = Path(sys.executable).parent / "leadscore"
    return str(script) if script.exists() else "leadscore"


def _available_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def timed(args: list[str], cwd: Path, timeout: float) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in GB and output of `/usr/bin/time -v leadscore ARGS`."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["COLUMNS"] = "160"
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", _leadscore(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"leadscore {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return seconds, (int(peak.group(1)) / 2**20 if peak else float("nan")), done.stdout


def world(leads: int, workdir: Path, timeout: float) -> Path:
    folder = workdir / f"world-{leads}"
    if not (folder / "truth.csv").exists():
        seconds, peak, _ = timed(
            ["demo-data", "--out", str(folder), "--leads", str(leads), "--format", "parquet"],
            workdir,
            timeout,
        )
        print(f"world {leads:,}: {seconds:.0f} s, peak {peak:.2f} GB", flush=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", default="50000,200000,1000000")
    parser.add_argument("--cluster", default="local:2")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".bench-scale")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--min-free-gb", type=float, default=8.0)
    parser.add_argument("--steps", default="train,score")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    for leads in (int(n) for n in args.leads.split(",")):
        data = world(leads, args.workdir, args.timeout)
        for where in ("1 process", args.cluster):
            cluster = [] if where == "1 process" else ["--cluster", where]
            label = where.replace(":", "-").replace(" ", "")
            run_dir = args.workdir / f"run-{leads}-{label}"
            run_dir.mkdir(exist_ok=True)
            for step in args.steps.split(","):
                free = _available_gb()
                if free < args.min_free_gb:
                    runs.append(Run(leads, step, where, None, None, f"skipped: {free:.1f} GB free"))
                    continue
                if step == "train":
                    command = ["train", "--data", str(data), *cluster]
                else:
                    out = run_dir / "scores"
                    command = [
                        "score", "--data", str(data), "--out", str(out), "--no-reasons",
                        "--model", alias_uri(DEFAULT_MODEL_NAME, CHALLENGER), *cluster,
                    ]  # fmt: skip
                try:
                    seconds, peak, output = timed(command, run_dir, args.timeout)
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    runs.append(Run(leads, step, where, None, None, str(exc).splitlines()[0]))
                    print(runs[-1], flush=True)
                    continue
                scored = re.search(r"Scored ([\d,]+) open leads", output)
                open_count = int(scored.group(1).replace(",", "")) if scored else None
                runs.append(Run(leads, step, where, seconds, peak, open_leads=open_count))
                print(runs[-1], flush=True)
    load = os.getloadavg()
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end\n"
    )
    print("| leads | step | where | wall time | peak memory per process | throughput | note |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for run in runs:
        wall = f"{run.seconds:,.0f} s" if run.seconds is not None else ""
        peak = f"{run.peak_gb:.2f} GB" if run.peak_gb is not None else ""
        print(
            f"| {run.leads:,} | {run.step} | {run.where} | {wall} | {peak} | "
            f"{run.throughput} | {run.note} |"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2))


if __name__ == "__main__":
    main()
