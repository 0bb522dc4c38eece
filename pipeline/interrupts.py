"""Ctrl-C held back for a few steps that must not be cut in their middle, and the
polite stop of kill and timeout (SIGTERM) taken as a Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Iterator

from .errors import PartlyReplacedError


@contextlib.contextmanager
def ctrl_c_deferred() -> Iterator[None]:
    """A Ctrl-C in here is raised when the block ends, not in its middle. It wins over
    an error raised meanwhile (the user asked to stop), but for outputs left part new,
    part old: that the user must read.

    Only the main thread receives Python's signal handlers; elsewhere, and where Ctrl-C
    is ignored (a background job) or handled outside Python, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    if handler in (signal.SIG_IGN, None):
        yield
        return
    pressed: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        signal.signal(signal.SIGINT, handler)
        if pressed and not isinstance(failure, PartlyReplacedError):
            raise KeyboardInterrupt


def terminate_as_ctrl_c() -> None:
    """kill, timeout and job schedulers stop a run with SIGTERM, which ended it on the
    spot: no message, the output's lock left behind, and loky's warnings about leaked
    semaphores. Sent on as a Ctrl-C, it takes Ctrl-C's way out (held back where Ctrl-C
    is, the letters done kept), with exit code 143. Only the first counts: GNU timeout
    sends a second to the whole process group, which landed in the middle of the
    shutdown the first had started. Not where Ctrl-C is ignored (a job started with
    '&' in a script), where SIGTERM still stops the run at once."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGTERM, _sent_on_as_ctrl_c)


_terminated: list[int] = []


def _sent_on_as_ctrl_c(signum, frame) -> None:
    if not _terminated:
        _terminated.append(signum)
        os.kill(os.getpid(), signal.SIGINT)


def interrupted_exit_code() -> int:
    """128 + the signal that stopped the run: 143 for SIGTERM, 130 for Ctrl-C."""
    return 128 + (signal.SIGTERM if _terminated else signal.SIGINT)
