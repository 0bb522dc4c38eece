"""Worker processes of the parallel steps: batch tagging and the theme model's fits.

A run killed with kill -9 (or by the out-of-memory killer) cannot stop its workers;
loky's keep waiting, for ever, on a pipe nobody reads, each holding its memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

from .interrupts import ctrl_c_deferred


def watch_parent(parent: int) -> None:
    """In each worker: end it when the run that started it is gone.

    Ctrl-C reaches every process of the terminal's group; the run stops its workers
    itself. A worker that also stopped at once broke loky's bookkeeping mid-shutdown
    (a traceback from its manager thread above the one-line message)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a Ctrl-C held back while the worker started (see sigint_held) is dropped here
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


@contextlib.contextmanager
def sigint_held():
    """Start workers in here: they start with Ctrl-C held back until watch_parent
    ignores it. Otherwise a Ctrl-C in their first half second of imports printed a
    traceback from each of them. A signal mask is inherited through fork and exec, a
    Python handler is not; CPython starts its resource tracker the same way.

    The run holds its own Ctrl-C back too, and raises it at the end of the block:
    other threads do not block it, and a KeyboardInterrupt in the middle of starting
    a worker left that worker without its start-up data (tracebacks on stdout)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from multiprocessing import resource_tracker as python_tracker

    from joblib.externals.loky.backend import resource_tracker as loky_tracker

    # started first: CPython's unblocks Ctrl-C once it has started its tracker
    python_tracker.ensure_running()
    loky_tracker.ensure_running()
    with ctrl_c_deferred():
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            yield
        finally:
            # a Ctrl-C pending on this thread reaches ctrl_c_deferred's handler here
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def worker_pool(**options):
    """joblib's settings for a parallel step whose workers end with the run; none inside
    another joblib worker (a grid search around the model), where joblib's own nesting
    rule applies rather than a new pool per worker."""
    from joblib import parallel_config

    if _nested():
        return contextlib.nullcontext()
    return parallel_config(backend="loky", initializer=watch_parent, initargs=(os.getpid(),), **options)


def _nested() -> bool:
    from joblib.parallel import get_active_backend

    return getattr(get_active_backend()[0], "nesting_level", 0) > 0


def start(parallel, tasks):
    """``parallel(tasks)`` as a generator of results (``return_as="generator"``): the
    call starts the workers, with Ctrl-C held back; a Ctrl-C that came meanwhile is
    raised here, with the tasks already handed out stopped."""
    if parallel.n_jobs == 1 or _nested():   # no worker process to start
        return parallel(tasks)
    results = None
    try:
        with sigint_held():
            results = parallel(tasks)
    except BaseException:
        if results is not None:
            close(results)
        raise
    return results


def close(results) -> None:
    """Stop the tasks still queued or running, at once, not whenever the results are
    garbage collected. joblib warns, when a run stops early (an error, Ctrl-C), that
    results computed or being computed were not used: they were not written (batch
    tagging: --resume tags those letters again)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\d+ tasks (?:have been successfully executed|which were "
                                r"still being processed)", category=UserWarning)
        results.close()


@contextlib.contextmanager
def quiet_loky_stop():
    """While a run's workers live: no traceback from loky's manager thread when the run
    stops them. On Ctrl-C it can look up a task the stop has just cancelled (a
    race in loky): nothing is lost (batch tagging: the letters not written are tagged
    again by --resume; train: the earlier models stay). Any other error of that thread
    is shown."""
    before = threading.excepthook

    def hook(args) -> None:
        flags = getattr(args.thread, "executor_flags", None)
        if not (isinstance(args.exc_value, KeyError) and getattr(flags, "shutdown", False)):
            before(args)
            return
        try:  # what the thread would have done next: end the workers, release the queues
            args.thread.join_executor_internals()
        except Exception:
            pass

    threading.excepthook = hook
    try:
        yield
    finally:
        if threading.excepthook is hook:  # not another run's, set since
            threading.excepthook = before
