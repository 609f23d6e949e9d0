"""Faults during a batch that lose nothing: Ctrl-C, SIGTERM (a scheduler, a closed SSH session) and a
full disk all stop the batch the same way.

`BatchStop` catches SIGINT, SIGTERM and SIGHUP while the batch runs and sets the sandbox's stop event, so every
sandbox under way is killed within a fraction of a second (autograder.execute.sandbox.STOP) and its
submission is recorded as *interrupted*; runs not yet started never start; what finished is kept; the
previous execution, grade and page of a submission whose re-run was stopped stay as they were (its run
was staged beside them: autograder.layout.install_execution). A second signal is never needed, and
changes nothing. The batch then raises BatchInterrupted (exit 130), or BatchError for a full disk,
with what was stopped and how to resume.
"""

from __future__ import annotations

import signal
import threading

from autograder.batch.options import BatchError
from autograder.execute import sandbox as sb

EXIT_INTERRUPTED = 130  # what a shell reports for a program stopped by Ctrl-C


class BatchInterrupted(BatchError):
    """The batch was stopped by a signal; the message says what was stopped and how to resume."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, summary=None):
        super().__init__(message)
        self.summary = summary


class DiskFull(BatchError):
    def __init__(self, message: str, summary=None):
        super().__init__(message)
        self.summary = summary


class BatchStop:
    """Why the batch is stopping ("" while it is not), and the signal handlers that say so."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal or SSH session closed

    def __init__(self, console=None):
        self.console, self.reason, self.disk_full = console, "", ""
        self._previous: dict = {}
        self._lock = threading.Lock()

    def __enter__(self):
        sb.STOP.clear()
        if threading.current_thread() is threading.main_thread():  # Python delivers signals there only
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *exc) -> None:
        for number, handler in self._previous.items():
            # once stopped, a further Ctrl-C while the batch says what it stopped changes nothing either
            signal.signal(number, self._after_stop if self.stopped else handler)
        self._previous.clear()
        sb.STOP.clear()

    @staticmethod
    def _after_stop(number, frame) -> None:
        pass

    @property
    def stopped(self) -> bool:
        return bool(self.reason)

    def _on_signal(self, number, frame) -> None:
        name = signal.Signals(number).name
        again = self.stopped
        self.request(name)
        if self.console is not None:  # never raises: nothing is left half-written by the handler
            self.console.print(
                f"[bold yellow]{name}:[/] "
                + (
                    "already stopping; the running notebooks are being stopped."
                    if again
                    else "stopping the running notebooks (the finished ones are kept)..."
                )
            )

    def request(self, reason: str) -> None:
        with self._lock:
            self.reason = self.reason or reason
        sb.STOP.set()

    def full(self, error: BaseException | str) -> None:
        with self._lock:
            self.disk_full = self.disk_full or str(error)
        self.request("disk full")
