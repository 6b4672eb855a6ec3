"""Worker memory after a burst of maximum-size requests (issue 11, finding 3).

Starts `leadscore serve` (one worker) on a demo model, measures the server's resident memory
idle, then sends twelve requests of nearly LEADSCORE_MAX_BODY_BYTES one after the other and
four at once, and measures again right after and after a pause. Figures go to stdout as a
markdown table (for docs/benchmarks.md).

    python bench/bench_memory_burst.py --workdir .bench-memory
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_serve import MODEL_URI, ROOT, ensure_model
from bench.http_load import free_port, start, stop, tree_rss_mib
from serving.config import DEFAULT_MAX_BODY_BYTES


def max_size_body(limit: int) -> bytes:
    """1,000 leads with as many activities as fit just under `limit` bytes."""

    def lead(i: int, n: int) -> dict[str, object]:
        return {
            "lead_id": f"burst-{i}",
            "created_at": "2026-01-05T10:00:00Z",
            "source": "webinar",
            "country": "US",
            "company_size": 250 + i,
            "job_title": "Head of Marketing",
            "email_domain": "example.com",
            "activities": [
                {"activity_type": "page_view", "occurred_at": f"2026-05-{1 + k % 28:02d}T10:00:00Z"}
                for k in range(n)
            ],
        }

    n = 1
    while True:
        body = json.dumps(
            {"leads": [lead(i, n + 1) for i in range(1_000)], "as_of": "2026-06-30T00:00:00Z"}
        )
        if len(body) > limit:
            return json.dumps(
                {"leads": [lead(i, n) for i in range(1_000)], "as_of": "2026-06-30T00:00:00Z"}
            ).encode()
        n += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="Keeps the demo model.")
    parser.add_argument("--leads", type=int, default=3_000, help="Demo world size.")
    parser.add_argument("--pause", type=float, default=60.0, help="Seconds before the last look.")
    args = parser.parse_args(argv)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="leadscore-bench-mem-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_model(workdir, args.leads)
    body = max_size_body(DEFAULT_MAX_BODY_BYTES)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "LEADSCORE_STATS_SECONDS": "3600",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("LEADSCORE_API_TOKEN", None)
    port = free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--model", MODEL_URI]
    process, _ = start(command, env, f"http://127.0.0.1:{port}/readyz", workdir / "serve.log")
    url = f"http://127.0.0.1:{port}/score"
    figures: dict[str, float] = {}
    peak = [0.0]
    sampling = True

    def sample() -> None:
        while sampling:
            peak[0] = max(peak[0], tree_rss_mib(process.pid))
            time.sleep(0.2)

    def send() -> int:
        return httpx.post(
            url, content=body, headers={"Content-Type": "application/json"}, timeout=300
        ).status_code

    try:
        send()  # warm-up: the first batch builds what every later one reuses
        time.sleep(2)
        figures["idle after one max-size request (MiB)"] = tree_rss_mib(process.pid)
        sampler = threading.Thread(target=sample)
        sampler.start()
        statuses = [send() for _ in range(12)]
        threads = [threading.Thread(target=lambda: statuses.append(send())) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sampling = False
        sampler.join()
        figures["peak during the burst (MiB)"] = peak[0]
        time.sleep(2)
        figures["2 s after the burst (MiB)"] = tree_rss_mib(process.pid)
        time.sleep(args.pause)
        figures[f"{args.pause:.0f} s after the burst (MiB)"] = tree_rss_mib(process.pid)
        figures["requests answered 200"] = statuses.count(200)
        figures["requests answered 503 (in-flight cap)"] = statuses.count(503)
    finally:
        stop(process)
    print(f"body {len(body) / 2**20:.1f} MiB (limit {DEFAULT_MAX_BODY_BYTES / 2**20:.0f} MiB)")
    print("| measure | value |\n|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
