"""Live progress of a running solve on stderr: elapsed time, best TDI, lower bound, gap.

It appears only when a solve runs longer than about a second and both stdout and stderr are
terminals (never with ``--quiet`` or ``--json``), and it erases itself when the solve ends, so
the summary that follows is all that stays on screen. ``plan`` and ``sweep`` pass a
:class:`LiveProgress` as the ``progress=`` callback of :func:`moccasin.solve`. It uses rich when
installed (``pip install moccasin[progress]``) and a plain carriage-return line otherwise.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import nullcontext

from moccasin.solvers.base import Progress

#: Seconds a solve runs before the live line appears: quick solves print nothing extra.
DELAY = 1.0
#: Redraws per second (the elapsed time ticks even when the solver reports nothing).
REFRESH = 4


def wanted(args) -> bool:
    """True when live progress should show: terminals on both streams, no --quiet or --json."""
    if getattr(args, "quiet", False) or getattr(args, "json", False):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def for_args(args, label: str = "solving", time_limit: float | None = None):
    """A context manager giving a :class:`LiveProgress`, or None (no progress) when unwanted."""
    if not wanted(args):
        return nullcontext(None)
    return LiveProgress(label, time_limit)


def gap_percent(best: int | None, bound: int | None) -> float | None:
    """Relative gap ``(best - bound) / best`` in percent, as the plan summary prints it."""
    if best is None or bound is None or best <= 0:
        return None
    return max(0.0, 100.0 * (best - bound) / best)


class LiveProgress:
    """The ``progress=`` callback plus the line that shows it; use it as a context manager.

    Solvers call it from their own threads; it only stores the newest report under a lock and a
    refresh thread draws it. :meth:`begin` starts a new solve on the same line (``sweep``).
    """

    def __init__(self, label: str = "solving", time_limit: float | None = None, delay: float = DELAY, stream=None):
        self.stream = stream or sys.stderr
        self.delay = delay
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live = None  # rich.live.Live once shown
        self._plain_shown = False
        self.begin(label, time_limit)

    # -- the callback ---------------------------------------------------------------------
    def __call__(self, report: Progress) -> None:
        with self._lock:
            self.report = report

    def begin(self, label: str, time_limit: float | None = None) -> None:
        """Reset the clock and the numbers for a new solve called ``label``."""
        with self._lock:
            self.label, self.time_limit = label, time_limit
            self.started = time.perf_counter()
            self.report: Progress | None = None

    # -- what is shown --------------------------------------------------------------------
    def fields(self) -> dict:
        """The numbers on the line, formatted: elapsed, best, bound, gap."""
        with self._lock:
            report, label, limit, started = self.report, self.label, self.time_limit, self.started
        elapsed = time.perf_counter() - started
        best = bound = gap = None
        if report is not None:
            best = report.best_tdi
            bound = report.bound_tdi
            gap = gap_percent(report.best_cost, report.lower_bound)
        return {
            "label": label,
            "elapsed": elapsed,
            "limit": limit,
            "best": "no schedule yet" if best is None else f"TDI {best:.3f}%",
            "bound": "-" if bound is None else f"{bound:.3f}%",
            "gap": "-" if gap is None else f"{gap:.2f}%",
        }

    def plain_line(self) -> str:
        f = self.fields()
        limit = f" / {f['limit']:.0f} s" if f["limit"] else ""
        return f"{f['label']}  {f['elapsed']:.1f} s{limit}  best {f['best']}  bound {f['bound']}  gap {f['gap']}"

    def __rich_console__(self, console, options):
        """One line: spinner, label, [time bar if wide], clock, best TDI, bound, gap."""
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        f = self.fields()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column(no_wrap=True, overflow="ellipsis")
        row = [self._spinner, Text(f["label"], style="bold")]
        if f["limit"] and options.max_width >= 100:
            grid.add_column(no_wrap=True, width=16)
            row.append(ProgressBar(total=f["limit"], completed=min(f["elapsed"], f["limit"]), width=16))
        clock = f"{f['elapsed']:.1f}/{f['limit']:.0f} s" if f["limit"] else f"{f['elapsed']:.1f} s"
        stats = Text(no_wrap=True)
        stats.append(clock, style="cyan")
        stats.append("  best ")
        stats.append(f["best"], style="green" if f["best"].startswith("TDI") else "yellow")
        stats.append("  bound ")
        stats.append(f["bound"], style="magenta")
        stats.append("  gap ")
        stats.append(f["gap"], style="bold")
        grid.add_column(no_wrap=True, min_width=stats.cell_len)
        row.append(stats)
        grid.add_row(*row)
        yield grid

    # -- showing it -----------------------------------------------------------------------
    def __enter__(self) -> "LiveProgress":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="moccasin-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._clear()

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return  # finished before the delay: nothing shown
        try:
            self._show()
        except Exception:  # noqa: BLE001 - a broken display must never break a solve
            return
        while not self._stop.wait(1 / REFRESH):
            try:
                self._refresh()
            except Exception:  # noqa: BLE001
                return

    def _show(self) -> None:
        try:
            from rich.console import Console
            from rich.live import Live
            from rich.spinner import Spinner
        except ImportError:
            self._refresh()
            return
        self._spinner = Spinner("dots", style="cyan")
        console = Console(file=self.stream, stderr=self.stream is sys.stderr)
        live = Live(self, console=console, transient=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
        live.start()
        with self._lock:
            self._live = live

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()
        else:
            self.stream.write("\r" + self.plain_line() + "\x1b[K")
            self.stream.flush()
            self._plain_shown = True

    def _clear(self) -> None:
        with self._lock:
            live, self._live = self._live, None
        if live is not None:
            live.stop()
        elif self._plain_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._plain_shown = False
