"""The live line of a long command: the stage the project logs, partitions done, nothing printed."""

from __future__ import annotations

import io
import logging
import subprocess
import sys

from rich.console import Console

from cli.progress import CountingMap, StageLine, stage_progress


class Shown:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> None:
        self.texts.append(text)


def test_the_line_names_the_stage_and_counts_partitions_of_the_current_stage() -> None:
    shown = Shown()
    line = StageLine("Training", shown)
    line.set_stage("building features of 12 snapshots")
    assert list(CountingMap(map, line)(str, [1, 2, 3])) == ["1", "2", "3"]
    assert shown.texts[-1] == (
        "Training · building features of 12 snapshots · 3 partitions of leads done"
    )
    line.set_stage("fitting the conversion model on 9 train snapshots")
    assert shown.texts[-1] == "Training · fitting the conversion model on 9 train snapshots"


def test_a_cluster_maps_attributes_stay_readable_through_the_counter() -> None:
    class ClusterMap:
        parallelism = 4

        def __call__(self, function, items):  # type: ignore[no-untyped-def]
            return map(function, items)

    counting = CountingMap(ClusterMap(), StageLine("x", Shown()))
    assert counting.parallelism == 4  # partition_count reads it to keep workers busy
    assert not hasattr(CountingMap(map, StageLine("x", Shown())), "parallelism")


def test_project_info_messages_reach_the_line_and_libraries_do_not() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    pipeline = logging.getLogger("training.pipeline")
    before = pipeline.level
    with stage_progress(console, "Training") as counting:
        line = counting._line
        logging.getLogger("training.pipeline").info("fitting the baselines on %d rows", 5)
        assert line.stage == "fitting the baselines on 5 rows"
        logging.getLogger("mlflow.store").warning("a library's warning")
        logging.getLogger("distributed.worker").info("a library's chatter")
        assert line.stage == "fitting the baselines on 5 rows"
    assert pipeline.level == before
    assert pipeline.handlers == []  # the line's handler is gone with it


def test_without_verbose_the_stage_messages_are_not_printed_as_log_lines() -> None:
    # A fresh interpreter: the CLI configures the root logger as it does for people.
    script = (
        "import logging, io\n"
        "from rich.console import Console\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        "from cli.progress import stage_progress\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "with stage_progress(Console(file=io.StringIO()), 'Training'):\n"
        "    logging.getLogger('training.pipeline').info('STAGE-MESSAGE')\n"
        "    logging.getLogger('training.pipeline').warning('A-WARNING')\n"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", script.replace("['--help']", "['validate', '--help']")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "STAGE-MESSAGE" not in quiet.stderr
    assert "A-WARNING" in quiet.stderr
    verbose = subprocess.run(
        [sys.executable, "-c", script.replace("['--help']", "['-v', 'validate', '--help']")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "STAGE-MESSAGE" in verbose.stderr
