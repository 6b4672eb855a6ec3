"""Where the memory of `leadscore train` goes: top holders at the peak, by project line.

    python bench/profile_memory.py --data DIR [--top 15]

Runs read_export and the training pipeline (no MLflow) under tracemalloc. A watcher thread
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    from training.export import read_export
    from training.pipeline import TrainConfig, train

    tracemalloc.start(8)
    watcher = PeakWatcher()
    watcher.start()
    start = time.perf_counter()
    watcher.phase = "read_export"
    export = read_export(Path(args.data)).export
    phase_peaks = {"read_export": tracemalloc.get_traced_memory()[1]}
    tracemalloc.reset_peak()
    watcher.phase = "train"
    train(export, TrainConfig())
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
