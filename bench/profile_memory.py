"""Where the memory of `leadscore train` goes: top holders at the peak, by project line.

    python bench/profile_memory.py --data DIR [--top 15] [--memray FILE]

Runs read_export (as `leadscore train` reads) and the training pipeline (no MLflow).

With `--memray FILE` (the dev dependency memray), every allocation is recorded to FILE,
native ones included (Arrow buffers, LightGBM's dataset); the allocations alive at the
high-water mark of the whole run are charged to the innermost frame in the project's own code.
Its overhead is small enough for 100,000-lead worlds on two busy cores.

Without it, the run is under tracemalloc (Python and NumPy allocations only). A watcher thread
takes a snapshot whenever the traced memory passes its previous high by 10%, so the last
snapshot is the one nearest the peak. Each allocation is charged to the innermost frame in
the project's own code (features/, models/, training/), which names the line that asked for
it even when numpy or pandas did the allocating. Arrow buffers are outside tracemalloc: the
RSS high-water mark is printed alongside.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(os.environ.get("LEADSCORE_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
PROJECT = tuple(str(ROOT / p) for p in ("features", "models", "training"))


class PeakWatcher(threading.Thread):
    """Snapshots tracemalloc whenever traced memory reaches a new high (10% steps)."""

    def __init__(self, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.high = 0
        self.snapshot: tracemalloc.Snapshot | None = None
        self.phase = ""
        self.peak_phase = ""
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            current, _ = tracemalloc.get_traced_memory()
            if current > self.high * 1.10:
                self.high = current
                self.peak_phase = self.phase
                self.snapshot = tracemalloc.take_snapshot()


def _holder(trace: tracemalloc.Trace) -> str:
    for frame in trace.traceback:  # most recent call first
        if frame.filename.startswith(PROJECT):
            return f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno}"
    frame = trace.traceback[0]
    return f"(outside) {Path(frame.filename).name}:{frame.lineno}"


def _read(data: str) -> object:
    """The export as `leadscore train` reads it (before `whole=` existed: all of it)."""
    import inspect

    from training.export import read_export

    if "whole" in inspect.signature(read_export).parameters:
        return read_export(Path(data), whole=False).export
    return read_export(Path(data)).export


def _memray_holder(stack: list[tuple[str, str, int]]) -> str:
    for _function, filename, lineno in stack:  # most recent call first
        if filename.startswith(PROJECT):
            return f"{Path(filename).relative_to(ROOT)}:{lineno}"
    if stack:
        return f"(outside) {Path(stack[0][1]).name}:{stack[0][2]}"
    return "(no Python frame)"


def profile_memray(data: str, out: Path, top: int) -> None:
    import memray

    from training.pipeline import TrainConfig, train

    out.unlink(missing_ok=True)
    start = time.perf_counter()
    with memray.Tracker(out, native_traces=False):
        export = _read(data)
        train(export, TrainConfig())  # type: ignore[arg-type]
        del export
    seconds = time.perf_counter() - start
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"wall {seconds:.0f} s (under memray), max RSS {rss_gb:.2f} GB")
    reader = memray.FileReader(out)
    print(f"memray high-water mark: {reader.metadata.peak_memory / 2**30:.2f} GB")
    holders: Counter[str] = Counter()
    for record in reader.get_high_watermark_allocation_records(merge_threads=True):
        holders[_memray_holder(record.stack_trace())] += record.size
    total = sum(holders.values())
    print(f"allocations alive at the high-water mark: {total / 2**30:.2f} GB")
    print("| holder | GB |")
    print("| --- | --- |")
    for holder, size in holders.most_common(top):
        print(f"| {holder} | {size / 2**30:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--memray", type=Path, help="record with memray into this file")
    args = parser.parse_args()
    if args.memray:
        profile_memray(args.data, args.memray, args.top)
        return

    from training.pipeline import TrainConfig, train

    tracemalloc.start(8)
    watcher = PeakWatcher()
    watcher.start()
    start = time.perf_counter()
    watcher.phase = "read_export"
    export = _read(args.data)
    phase_peaks = {"read_export": tracemalloc.get_traced_memory()[1]}
    tracemalloc.reset_peak()
    watcher.phase = "train"
    train(export, TrainConfig())  # type: ignore[arg-type]
    phase_peaks["train"] = tracemalloc.get_traced_memory()[1]
    watcher.stop.set()
    watcher.join()
    seconds = time.perf_counter() - start
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"wall {seconds:.0f} s (under tracemalloc), max RSS {rss_gb:.2f} GB")
    for phase, peak in phase_peaks.items():
        print(f"traced peak during {phase}: {peak / 2**30:.2f} GB")
    snapshot = watcher.snapshot
    if snapshot is None:
        return
    holders: Counter[str] = Counter()
    for trace in snapshot.traces:
        holders[_holder(trace)] += trace.size
    total = sum(holders.values())
    print(f"snapshot nearest the peak ({watcher.peak_phase}): {total / 2**30:.2f} GB traced")
    print("| holder | GB |")
    print("| --- | --- |")
    for holder, size in holders.most_common(args.top):
        print(f"| {holder} | {size / 2**30:.3f} |")


if __name__ == "__main__":
    main()
