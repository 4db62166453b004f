"""What the user sees: a progress bar while sending, bad-row lines, a final summary.

rich draws the bar on stderr only when stderr is a terminal; piped or under pytest the
bar is disabled (no control sequences in logs) and only the bad-row lines and the
summary are printed. The summary goes to stdout, one line, so scripts can read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

MAX_BAD_ROWS_SHOWN = 50


class RateColumn(ProgressColumn):
    """Events per second (rich's own speed column is for bytes)."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} ev/s", style="cyan")


@dataclass
class LabelCounts:
    """Late labels of a run (`--labels topic|both`): scheduled = labelled events sent,
    pending = scheduled but never sent (the run was interrupted before they were due)."""

    topic: str
    scheduled: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0

    def line(self) -> str:
        text = f"{self.topic}: {self.sent} label(s) sent later than their events, {self.failed} failed"
        if self.pending:
            text += f", {self.pending} not sent (interrupted before they were due)"
        return text


@dataclass
class Summary:
    """Outcome of one produce run; `sent` counts records the broker acknowledged."""

    topic: str
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    duration: float = 0.0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    stopped_at: str = ""  # --strict: where the first bad row stopped the run
    labels: LabelCounts | None = None

    @property
    def events_per_second(self) -> float:
        return self.sent / self.duration if self.duration > 0 else 0.0

    def line(self) -> str:
        text = (f"{self.topic}: sent {self.sent}, failed {self.failed}, skipped {self.skipped}, "
                f"duration {self.duration:.2f} s, {self.events_per_second:,.0f} events/s")
        if self.skipped:
            text += f" ({self.dead_lettered} bad rows dead-lettered)"
        if self.stopped_at:
            text += f" (stopped at the bad row {self.stopped_at})"
        if self.interrupted:
            text += " (interrupted)"
        return text


class Reporter:
    def __init__(self, quiet: bool = False, out: Console | None = None,
                 err: Console | None = None) -> None:
        self.out = out or Console(highlight=False, soft_wrap=True)
        self.err = err or Console(stderr=True, highlight=False, soft_wrap=True)
        self.quiet = quiet
        self._bad_shown = 0
        self._progress: Progress | None = None
        self._task = None

    def start(self, description: str, total: int | None) -> None:
        disable = self.quiet or not self.err.is_terminal
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), RateColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=self.err, disable=disable, transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=n)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def bad_row(self, where: str, reason: str) -> None:
        self._bad_shown += 1
        if self._bad_shown <= MAX_BAD_ROWS_SHOWN:
            self.err.print(f"[yellow]skipped[/yellow] {escape(where)}: {escape(reason)}")
        elif self._bad_shown == MAX_BAD_ROWS_SHOWN + 1:
            self.err.print(f"[yellow]more bad rows: not shown; the summary counts them, "
                           f"the dead-letter topic holds each with its reason[/yellow]")

    def note(self, text: str) -> None:
        self.err.print(escape(text))

    def summary(self, summary: Summary) -> None:
        style = "red" if summary.failed else "green"
        self.out.print(f"[{style}]produced[/{style}] {escape(summary.line())}")
        if summary.labels is not None:
            lstyle = "red" if summary.labels.failed else "yellow" if summary.labels.pending else "green"
            self.out.print(f"[{lstyle}]labelled[/{lstyle}] {escape(summary.labels.line())}")
        for error in summary.errors:
            self.err.print(f"[red]delivery error:[/red] {escape(error)}")
