"""Ctrl-C held back for a few steps that must not be cut in their middle."""

from __future__ import annotations

import contextlib
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
