"""Closed-loop HTTP load on 127.0.0.1 and the servers under it, for the serving benchmarks.

C keep-alive clients post one body for D seconds; wrk drives them when it is installed (it
costs the 2 cores least), else the asyncio client here. Servers start in their own process
group, are ready when a URL answers 200, and are stopped with the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil


@dataclass
class LoadResult:
    name: str
    server: str
    concurrency: int
    seconds: float
    requests: int
    errors: int
    requests_per_s: float
    leads_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    tool: str


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _client(
    port: int, request: bytes, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            if match is None:
                raise RuntimeError("response without Content-Length")
            await reader.readexactly(int(match.group(1)))
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def _python_load(
    port: int, path: str, body: bytes, concurrency: int, seconds: float
) -> tuple[list[float], list[int], float]:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_client(port, request, deadline, latencies, errors) for _ in range(concurrency))
    )
    return latencies, errors, time.perf_counter() - started


WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("BENCH %d %d %d %f %f %f %f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _wrk_load(
    port: int, path: str, body: bytes, concurrency: int, seconds: float, workdir: Path
) -> tuple[int, int, float, float, float, float, float]:
    script = workdir / "bench.lua"
    script.write_text(WRK_SCRIPT)
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(int(seconds), 1)}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        env={**os.environ, "BENCH_BODY": str(body_file)},
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("BENCH "))
    n, errors, duration_us, p50, p90, p99, worst = line.split()[1:]
    return (
        int(n),
        int(errors),
        float(duration_us) / 1e6,
        *(float(v) / 1e3 for v in (p50, p90, p99, worst)),
    )  # type: ignore[return-value]


def run_load(
    name: str,
    server: str,
    port: int,
    path: str,
    body: bytes,
    leads: int,
    concurrency: int,
    seconds: float,
    tool: str,
    workdir: Path,
) -> LoadResult:
    if tool == "wrk":
        n, errors, elapsed, p50, p90, p99, worst = _wrk_load(
            port, path, body, concurrency, seconds, workdir
        )
    else:
        latencies, failed, elapsed = asyncio.run(
            _python_load(port, path, body, concurrency, seconds)
        )
        n, errors = len(latencies), len(failed)
        p50, p90, p99 = np.percentile(np.asarray(latencies) * 1e3, [50, 90, 99])
        worst = max(latencies) * 1e3
    return LoadResult(
        name, server, concurrency, round(elapsed, 2), n, errors, round(n / elapsed, 1),
        round(n * leads / elapsed, 1), round(p50, 2), round(p90, 2), round(p99, 2),
        round(worst, 2), tool,
    )  # fmt: skip


def combine(runs: list[LoadResult]) -> LoadResult:
    """Several runs of one scenario on one server as one row: throughput from the totals,
    latency percentiles averaged over the runs (each run's own percentile)."""
    first = runs[0]
    seconds = sum(r.seconds for r in runs)
    requests = sum(r.requests for r in runs)
    leads = sum(r.leads_per_s * r.seconds for r in runs)

    def mean(values: list[float]) -> float:
        return round(float(np.mean(values)), 2)

    return LoadResult(
        first.name, first.server, first.concurrency, round(seconds, 2), requests,
        sum(r.errors for r in runs), round(requests / seconds, 1), round(leads / seconds, 1),
        mean([r.p50_ms for r in runs]), mean([r.p90_ms for r in runs]),
        mean([r.p99_ms for r in runs]), max(r.max_ms for r in runs), first.tool,
    )  # fmt: skip


def start(
    command: list[str], env: dict[str, str], ready_url: str, log: Path, cwd: Path | None = None
) -> tuple[Any, float]:
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )
    deadline = started + 180
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[:4]} exited:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return process, time.perf_counter() - started
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{command[:4]} not ready in 180 s:\n{log.read_text()[-2000:]}")


def stop(process: Any) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _tree_sum(pid: int, measure: Any) -> float:
    """`measure(process)` summed over a process and its children (NaN when it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += measure(p)
    return total


def tree_rss_mib(pid: int) -> float:
    return _tree_sum(pid, lambda p: p.memory_info().rss) / 2**20


def tree_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children so far."""
    return _tree_sum(pid, lambda p: sum(p.cpu_times()[:2]))


def cpu_ms_per_request(pid: int, port: int, path: str, body: bytes, requests: int) -> float:
    """The server's CPU milliseconds per request, one request at a time on one connection.

    What the server spends, not how fast it answers: other work on the machine slows it down
    but hardly changes it, so two servers compared this way on a busy machine still compare.
    """
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Content-Type": "application/json"}
    ) as client:
        for _ in range(min(50, requests)):  # warm-up
            client.post(path, content=body)
        before = tree_cpu_seconds(pid)
        for _ in range(requests):
            response = client.post(path, content=body)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
        return (tree_cpu_seconds(pid) - before) / requests * 1e3
