"""Worker processes of the parallel steps: batch tagging and the theme model's fits.

A run killed with kill -9 (or by the out-of-memory killer) cannot stop its workers;
loky's keep waiting, for ever, on a pipe nobody reads, each holding its memory.
"""

from __future__ import annotations

import os
import time


def watch_parent(parent: int) -> None:
    """In each worker: end it when the run that started it is gone.

    Ctrl-C reaches every process of the terminal's group; the run stops its workers
    itself. A worker that also stopped at once broke loky's bookkeeping mid-shutdown
    (a traceback from its manager thread above the one-line message)."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def worker_pool(**options):
    """joblib's settings for a parallel step whose workers end with the run; none inside
    another joblib worker (a grid search around the model), where joblib's own nesting
    rule applies rather than a new pool per worker."""
    import contextlib

    from joblib import parallel_config
    from joblib.parallel import get_active_backend

    if getattr(get_active_backend()[0], "nesting_level", 0) > 0:
        return contextlib.nullcontext()
    return parallel_config(backend="loky", initializer=watch_parent, initargs=(os.getpid(),), **options)
