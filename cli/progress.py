"""What a long command is doing now: its stage, the partitions of leads done and the time run.

A training run on a million leads takes tens of minutes; a spinner alone says nothing about
whether it is reading, building features or fitting. `stage_progress` shows one live line
(transient: gone when the command ends) whose text is the latest progress message the
project's packages log at INFO, with the partitions of leads done in the current pass and the
time elapsed. Without --verbose those messages are not printed as log lines: the root
handler's level stays at WARNING (set in `cli.main`), only this line reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

# The loggers whose INFO messages name a stage of the work (not libraries' chatter).
PROJECT_LOGGERS = ("training", "models", "features", "ops", "demo")


class StageLine:
    """The text of the live line: a title, the latest stage message and partitions done."""

    def __init__(self, title: str, show: Callable[[str], None]) -> None:
        self.title = title
        self.stage = ""
        self.partitions = 0
        self._show = show

    def set_stage(self, message: str) -> None:
        self.stage = message
        self.partitions = 0
        self._refresh()

    def partition_done(self) -> None:
        self.partitions += 1
        self._refresh()

    def text(self) -> str:
        parts = [self.title]
        if self.stage:
            parts.append(self.stage)
        if self.partitions:
            parts.append(
                f"{self.partitions} partition{'s' if self.partitions > 1 else ''} of leads done"
            )
        return " · ".join(parts)

    def _refresh(self) -> None:
        self._show(self.text())


class _StageHandler(logging.Handler):
    def __init__(self, line: StageLine) -> None:
        super().__init__(logging.INFO)
        self.line = line

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".", 1)[0] in PROJECT_LOGGERS:
            self.line.set_stage(record.getMessage())


class CountingMap:
    """A partition map (builtin `map` or a cluster's) that tells the line of each partition
    done; everything else, such as a cluster map's `parallelism`, is the wrapped map's."""

    def __init__(self, inner: Callable[..., Iterator[Any]], line: StageLine) -> None:
        self._inner = inner
        self._line = line

    def __call__(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        for result in self._inner(function, items):
            self._line.partition_done()
            yield result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextmanager
def stage_progress(
    console: Console, title: str, map_partitions: Callable[..., Any] = map
) -> Iterator[CountingMap]:
    """A live line for the work inside the block; yields `map_partitions` counting partitions."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(title, total=None)
        line = StageLine(title, lambda text: progress.update(task, description=text))
        handler = _StageHandler(line)
        loggers = [logging.getLogger(name) for name in PROJECT_LOGGERS]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(handler)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        try:
            yield CountingMap(map_partitions, line)
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(handler)
                logger.setLevel(level)
