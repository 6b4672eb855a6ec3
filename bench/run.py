"""Run leadscore's benchmarks, print measured vs target, and update docs/benchmarks.md.

    uv run --frozen python bench/run.py                  # all of them (what `make bench` runs)
    uv run --frozen python bench/run.py demo features    # a subset
    uv run --frozen python bench/run.py --no-docs score  # print only

Each benchmark's figures go between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in
docs/benchmarks.md; the prose around them is written by hand and left alone. The summary block
is rewritten only by a run of every benchmark, so its figures always come from one run.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import bench_demo
import bench_features
import bench_ops
import bench_quality
import bench_score
import bench_train
from common import ROOT, Check, Context, Section, loadavg, machine
from rich.console import Console
from rich.table import Table

BENCHMARKS: dict[str, Callable[[Context], Section]] = {
    "demo": bench_demo.run,
    "features": bench_features.run,
    "quality": bench_quality.run,
    "score": bench_score.run,
    "train": bench_train.run,
    "ops": bench_ops.run,
}
ALIASES = {"training": "train", "scoring": "score"}
DOCS = ROOT / "docs" / "benchmarks.md"

# Wide enough for the table when the output goes to a file or make's log.
console = Console(width=None if sys.stdout.isatty() else 120)


def _block(name: str, body: list[str]) -> str:
    return "\n".join([f"<!-- bench:{name} -->", *body, f"<!-- /bench:{name} -->"])


def replace_block(text: str, name: str, body: list[str]) -> tuple[str, bool]:
    """`text` with the marked block `name` replaced by `body` (and whether it was found)."""
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.DOTALL
    )
    if not pattern.search(text):
        return text, False
    return pattern.sub(lambda _: _block(name, body), text, count=1), True


def _checks_markdown(checks: list[Check], with_benchmark: bool = False) -> list[str]:
    header = ["benchmark"] if with_benchmark else []
    lines = [
        "| " + " | ".join([*header, "figure", "measured", "target", ""]) + " |",
        "|" + "|".join(" --- " for _ in range(len(header) + 4)) + "|",
    ]
    for check in checks:
        status = f"**{check.status}**" if check.status else ""
        cells = [check.benchmark] if with_benchmark else []
        cells += [check.metric.strip(), check.shown(), check.target or "", status]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _stamp(section: Section, info: dict[str, str]) -> str:
    before = ", ".join(f"{x:.1f}" for x in section.load_before)
    after = ", ".join(f"{x:.1f}" for x in section.load_after)
    return (
        f"_Measured {info['date']} on {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; "
        f"commit {info['commit']}; `{info['command']}`; {section.seconds:.0f} s; "
        f"load average (1, 5, 15 min) {before} before, {after} after._"
    )


def section_markdown(section: Section, info: dict[str, str]) -> list[str]:
    if section.error:
        return [_stamp(section, info), "", f"**The benchmark failed:** `{section.error}`", ""]
    return [_stamp(section, info), "", *_checks_markdown(section.checks), *section.lines]


def summary_markdown(sections: list[Section], info: dict[str, str]) -> list[str]:
    machine_rows = [f"| {key} | {value} |" for key, value in info.items()]
    checks = [c for s in sections for c in s.checks if c.target]
    return [
        "| machine and run | |",
        "| --- | --- |",
        *machine_rows,
        "",
        *_checks_markdown(checks, with_benchmark=True),
    ]


def update_docs(
    sections: list[Section], info: dict[str, str], full_run: bool, docs: Path = DOCS
) -> None:
    if not docs.exists():
        console.print(f"[yellow]{docs} does not exist; figures not written.[/yellow]")
        return
    text = docs.read_text()
    blocks = [(s.name, section_markdown(s, info)) for s in sections]
    if full_run:
        blocks.append(("summary", summary_markdown(sections, info)))
    for name, body in blocks:
        text, found = replace_block(text, name, body)
        if not found:
            console.print(f"[yellow]no <!-- bench:{name} --> block in {docs}; skipped.[/yellow]")
    docs.write_text(text)
    console.print(f"Updated {docs}.")


def print_report(sections: list[Section], info: dict[str, str]) -> None:
    console.print(
        f"[bold]leadscore benchmarks[/bold]  {info['date']}  {info['cpu']}, {info['cores']} "
        f"cores, {info['ram']}  load {info['load average at start (1, 5, 15 min)']}"
    )
    table = Table(show_lines=False)
    for column, justify in (
        ("benchmark", "left"),
        ("figure", "left"),
        ("measured", "right"),
        ("target", "right"),
        ("", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for section in sections:
        if section.error:
            table.add_row(section.name, "failed", "", "", "[bold red]ERROR[/bold red]")
        for check in section.checks:
            style = {"PASS": "green", "MISS": "bold red"}.get(check.status, "")
            status = f"[{style}]{check.status}[/{style}]" if style else ""
            table.add_row(section.name, check.metric, check.shown(), check.target, status)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="NAME",
        help=f"which to run, of {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--leads", type=int, default=50_000, help="demo world size")
    parser.add_argument("--seed", type=int, default=0, help="demo world seed")
    parser.add_argument("--no-docs", action="store_true", help="do not update the docs")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the page to update")
    parser.add_argument("--json", type=Path, help="also write the checks to this JSON file")
    parser.add_argument("--workdir", type=Path, help="keep data and MLflow store here")
    args = parser.parse_args(argv)

    names = [ALIASES.get(n, n) for n in args.benchmarks] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    names = [n for n in BENCHMARKS if n in names]  # dependency order
    full_run = names == list(BENCHMARKS) and args.leads == 50_000 and args.seed == 0

    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    info = machine()
    ctx = Context(args.leads, args.seed, args.workdir)
    sections = []
    try:
        for name in names:
            console.print(f"[bold]{name}[/bold] ...")
            before, start = loadavg(), time.perf_counter()
            try:
                section = BENCHMARKS[name](ctx)
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                console.print_exception(max_frames=8)
                section = Section(name, name, error=f"{type(exc).__name__}: {exc}")
            section.seconds = time.perf_counter() - start
            section.load_before, section.load_after = before, loadavg()
            sections.append(section)
            console.print(f"  done in {section.seconds:.0f} s")
    finally:
        ctx.close()

    print_report(sections, info)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "checks": [
                        {**c.__dict__, "status": c.status} for s in sections for c in s.checks
                    ],
                },
                indent=2,
            )
        )
    if not args.no_docs and args.leads == 50_000 and args.seed == 0:
        update_docs(sections, info, full_run and not any(s.error for s in sections), args.docs)
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
