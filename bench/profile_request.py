"""CPU per step of one scoring request, in process (no HTTP): where a request's time goes.

Loads the registered model of a `bench_serve.py` work folder as a worker does (the service's
collector settings), then scores one request body (`hundred`: 100 leads with 30 activities;
`one`; `one_fast`) many times and prints the mean CPU time of each step. CPU time of this
process, not wall time, so the figures hold on a busy machine. glibc settings come from the
environment, to compare them:

    python bench/profile_request.py --workdir .bench-serve [--body hundred] [--requests 500]
    MALLOC_MMAP_THRESHOLD_=262144 python bench/profile_request.py --workdir .bench-serve
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_serve import MODEL_URI, ensure_model, request_bodies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(".bench-serve"))
    parser.add_argument("--body", choices=("hundred", "one", "one_fast"), default="hundred")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    ensure_model(workdir, 8_000)
    body = request_bodies(workdir / "demo")[args.body]

    from serving.config import ServingConfig
    from serving.engine import ScoringEngine
    from serving.json_keys import duplicate_key
    from serving.lead_checks import check_leads, render_scores
    from serving.model_source import load_from_registry
    from serving.state import build_state

    with tempfile.TemporaryDirectory() as scratch:
        served = load_from_registry(MODEL_URI, os.environ["MLFLOW_TRACKING_URI"], Path(scratch))
    state = build_state(served, ServingConfig.from_env())
    engine = state.engine
    assert isinstance(engine, ScoringEngine)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)

    def once(spent: Counter[str]) -> None:
        clock = time.process_time
        a = clock()
        parsed = state.request_model.model_validate_json(body)
        b = clock()
        duplicate_key(body, parsed)
        c = clock()
        as_of, warnings, activities = check_leads(parsed.leads, parsed.as_of)
        d = clock()
        scores = engine.score(parsed.leads, as_of, parsed.explain, activities)
        e = clock()
        render_scores(
            parsed.leads, as_of, parsed.as_of, scores, parsed.explain, state.model_ref, warnings
        )
        f = clock()
        spent.update(
            {"parse": b - a, "duplicate keys": c - b, "lead checks": d - c, "engine": e - d,
             "response": f - e}
        )  # fmt: skip

    for _ in range(20):  # warm-up: remembered phrases, caches
        once(Counter())
    spent: Counter[str] = Counter()
    for _ in range(args.requests):
        once(spent)
    for step, seconds in spent.items():
        print(f"{step:15s} {1000 * seconds / args.requests:6.2f} ms")
    print(f"{'total':15s} {1000 * sum(spent.values()) / args.requests:6.2f} ms CPU per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
