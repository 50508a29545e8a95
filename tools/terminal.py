"""Terminal output of the `kaohe` commands, on `rich`: tables that measure Chinese text right,
progress bars only on a terminal (piped output gets no `\\r` and no escape codes), and a closed pipe
(`kaohe keys list | head -1`) ending the command quietly instead of with a traceback."""

import os
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

PIPED_WIDTH = 200  # piped output is not wrapped at 80 columns: a script reads whole lines


def console(file: TextIO | None = None, *, stderr: bool = False) -> Console:
    target = file or (sys.stderr if stderr else sys.stdout)
    terminal = target.isatty() if hasattr(target, "isatty") else False
    return Console(
        file=target,
        width=None if terminal else PIPED_WIDTH,
        force_terminal=terminal,
        no_color=not terminal,
        highlight=False,
        soft_wrap=not terminal,
    )


def table(title: str | None, columns: Iterable[str], *, out: Console | None = None) -> Table:
    """A table: boxed on a terminal; plain aligned columns (first column at the line start) in a pipe."""
    terminal = out.is_terminal if out is not None else sys.stdout.isatty()
    return Table(
        *columns,
        title=title if terminal else None,
        box=box.SIMPLE_HEAD if terminal else None,
        pad_edge=False,
        show_edge=False,
        header_style="bold" if terminal else "",
    )


def progress(out: Console) -> Progress:
    """A progress bar on stderr, shown only when stderr is a terminal."""
    bar_console = console(stderr=True) if out.file is sys.stdout else out
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=bar_console,
        disable=not bar_console.is_terminal,
        transient=False,
    )


def quiet_on_closed_pipe(command: Callable[[], int]) -> int:
    """Run a command; a reader that went away (`| head -1`) ends it with no traceback.

    Python's own advice: point stdout at /dev/null so the flush at exit does not fail again."""
    try:
        code = command()
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # as a shell reports a command killed by SIGPIPE
