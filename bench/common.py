"""Shared pieces of the benchmarks: the machine record, timing, checks, and one lazy context.

The context builds the demo world, its csv export and the trained model at most once per
`bench/run.py` invocation, so running several benchmarks does not redo the expensive steps.
"""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Check:
    """One measured figure, with its target when the issues set one."""

    benchmark: str
    metric: str
    value: float
    unit: str
    target: str = ""  # e.g. "< 10 s", ">= 1,500 leads/s"; empty: a figure without a target
    passed: bool | None = None
    digits: int = 2

    @property
    def status(self) -> str:
        if self.passed is None:
            return ""
        return "PASS" if self.passed else "MISS"

    def shown(self) -> str:
        text = f"{self.value:,.{self.digits}f}"
        return f"{text} {self.unit}".strip()


def at_most(value: float, limit: float) -> bool:
    return bool(value <= limit)


def at_least(value: float, floor: float) -> bool:
    return bool(value >= floor)


@dataclass
class Section:
    """What one benchmark reports: checks for the table, and details for docs/benchmarks.md."""

    name: str
    title: str
    checks: list[Check] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # markdown lines (tables, notes)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seconds: float = 0.0
    error: str | None = None

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        return check

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        """Append a markdown table."""
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join(" --- " for _ in header) + "|")
        self.lines += ["| " + " | ".join(row) + " |" for row in rows]
        self.lines.append("")


@dataclass(frozen=True)
class Timing:
    """Wall and process CPU times of repeated runs of one operation.

    Checks use the best run: on a shared machine other processes only ever add time. The CPU
    time (all threads of this process) shows how much of a slow wall time was waiting for a core.
    """

    seconds: tuple[float, ...]
    cpu_seconds: tuple[float, ...]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu_seconds)

    def describe(self) -> str:
        cpu = f"CPU {self.best_cpu:.2f} s"
        if len(self.seconds) == 1:
            return f"{self.seconds[0]:.2f} s ({cpu})"
        runs = ", ".join(f"{s:.2f}" for s in self.seconds)
        return f"best {self.best:.2f} s of {len(self.seconds)} runs ({runs}; {cpu})"


def time_runs(operation: Callable[[], Any], repeat: int = 1) -> tuple[Timing, Any]:
    """Time `operation` `repeat` times; return the timings and the last result."""
    seconds, cpu_seconds = [], []
    result = None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = operation()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - start_cpu)
    return Timing(tuple(seconds), tuple(cpu_seconds)), result


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return float("nan")


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def machine() -> dict[str, str]:
    """What the figures were measured on, and how."""
    from importlib import metadata

    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("numpy", "pandas", "lightgbm", "mlflow")
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    args = " ".join(shlex.quote(a) for a in sys.argv[1:])
    command = f"uv run --frozen python bench/run.py {args}".strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command if args else f"make bench ({command})",
        "cores": f"{os.cpu_count()} (nproc)",
        "cpu": _cpu_model(),
        "ram": f"{_ram_gib():.1f} GiB",
        "python": platform.python_version(),
        "libraries": versions,
        "commit": _git_commit(),
        "load average at start (1, 5, 15 min)": load,
    }


class Context:
    """The demo world, its csv export on disk and the trained model, each built once."""

    def __init__(self, n_leads: int, seed: int, workdir: Path | None = None) -> None:
        self.n_leads = n_leads
        self.seed = seed
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="leadscore-bench-")
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._world: Any = None
        self._demo_dir: Path | None = None
        self._training: Any = None
        self.training_seconds: float | None = None

    @property
    def config(self) -> Any:
        from demo.world import DemoConfig

        return DemoConfig(n_leads=self.n_leads, seed=self.seed)

    @property
    def world(self) -> Any:
        if self._world is None:
            from demo.world import generate_demo_world

            self._world = generate_demo_world(self.config)
        return self._world

    def set_world(self, world: Any) -> None:
        self._world = world

    @property
    def demo_dir(self) -> Path:
        """The default demo export written as csv (what `leadscore demo-data` writes)."""
        if self._demo_dir is None:
            from demo.world import write_demo_world

            folder = self.workdir / "demo_data"
            write_demo_world(self.world, folder)
            self._demo_dir = folder
        return self._demo_dir

    def set_demo_dir(self, folder: Path) -> None:
        self._demo_dir = folder

    @property
    def training(self) -> Any:
        """`training.pipeline.train` on the demo export with the default TrainConfig."""
        if self._training is None:
            from training.pipeline import train

            start = time.perf_counter()
            self._training = train(self.world.export)
            self.training_seconds = time.perf_counter() - start
        return self._training

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def loadavg() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (one, five, fifteen)
