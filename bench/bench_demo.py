"""Demo-data generation: simulate the default world, then also write it as csv."""

from __future__ import annotations

import shutil

from common import Check, Context, Section, at_most, time_runs

from demo.world import generate_demo_world, write_demo_world

GENERATE_TARGET_S = 60.0  # issue 2, section 3: "generated in under a minute on 2 cores"


def run(ctx: Context, repeat: int = 3) -> Section:
    section = Section("demo", "Demo-data generation")
    config = ctx.config
    timing, world = time_runs(lambda: generate_demo_world(config), repeat)
    ctx.set_world(world)

    folder = ctx.workdir / "demo_data_timed"
    shutil.rmtree(folder, ignore_errors=True)
    written, paths = time_runs(lambda: write_demo_world(world, folder))
    ctx.set_demo_dir(folder)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6

    export, truth = world.export, world.truth
    section.add(
        Check(
            "demo",
            f"generate {config.n_leads:,} leads (best of {repeat})",
            timing.best,
            "s",
            f"< {GENERATE_TARGET_S:.0f} s",
            at_most(timing.best, GENERATE_TARGET_S),
        )
    )
    section.add(
        Check(
            "demo",
            "generate + write csv",
            timing.best + written.best,
            "s",
            f"< {GENERATE_TARGET_S:.0f} s",
            at_most(timing.best + written.best, GENERATE_TARGET_S),
        )
    )
    section.table(
        ["step", "wall time"],
        [
            ["`generate_demo_world(DemoConfig())`", timing.describe()],
            [f"`write_demo_world` (csv, {megabytes:.0f} MB incl. truth.csv)", written.describe()],
            ["generate + write", f"{timing.best + written.best:.2f} s"],
        ],
    )
    section.table(
        ["what", "rows"],
        [
            ["leads", f"{len(export.leads):,}"],
            ["activities", f"{len(export.activities):,}"],
            ["opportunities", f"{len(export.opportunities):,}"],
            [
                "truth.csv (open leads of the last 120 days)",
                f"{len(truth):,} (mean p_true {truth['p_true'].mean():.4f}, "
                f"won {truth['won'].mean():.4f})",
            ],
        ],
    )
    return section
