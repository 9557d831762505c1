"""Notebook kernels started ahead of time, while the ingest notebook runs.

Starting a kernel and importing cemkit's stack (pandas, pyarrow, scipy) costs ≈ 2.5 s per notebook here
(`benchmarks/bench_run.py`); the analysis notebooks cannot start before ``01_data_check`` has written the
clean tables, and that notebook leaves the second core mostly idle. :class:`WarmKernels` starts one fresh
kernel per later notebook on a background thread, one after another, and runs ``import cemkit.views`` in it
(with ``store_history=False``: the notebook's execution counts still start at 1). Each kernel serves exactly
one notebook, so notebooks stay as isolated as with papermill's own kernels; a kernel that failed to start is
simply not used (papermill then starts one as usual). Every kernel is shut down when its notebook ends, and
those never used when the run ends.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_ARGS", "WARM_CODE", "WarmKernels", "shutdown"]

#: no kernel chatter on stderr
KERNEL_ARGS = ["--IPKernelApp.log_level=50"]
WARM_CODE = "import cemkit.views"


def _start(cwd: Path, kernel_name: str) -> Any:
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = AsyncKernelManager(kernel_name=kernel_name)
    run_sync(km.start_kernel)(extra_arguments=KERNEL_ARGS, cwd=str(cwd))
    try:
        kc = km.client()
        kc.start_channels()
        try:
            run_sync(kc.wait_for_ready)(timeout=60)
            reply = run_sync(kc.execute_interactive)(WARM_CODE, store_history=False, timeout=120,
                                                     output_hook=lambda msg: None)
            if reply["content"].get("status") != "ok":
                raise RuntimeError(f"warm-up failed in a notebook kernel: {reply['content'].get('evalue')}")
        finally:
            kc.stop_channels()
    except BaseException:
        shutdown(km)
        raise
    return km


def shutdown(km: Any) -> None:
    """Stop a kernel (quietly: at the end of a run a kernel that is already gone is fine)."""
    from jupyter_core.utils import run_sync

    try:
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001, S110 - best effort at clean-up: the kernel may already be gone
        pass


class WarmKernels:
    """``n`` kernels started in order on one background thread; :meth:`take` hands out the next one.

    At most ``ahead`` kernels wait unused at a time (the next one starts when one is taken): an idle kernel
    holds ≈ 230 MB, and during ingest — the run's peak — five idle kernels were a third of the memory the run
    needed (docs/scale.md). ``ahead=None`` starts all ``n`` at once."""

    def __init__(self, n: int, cwd: Path, kernel_name: str = "python3", ahead: int | None = 2):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cemkit-warm")
        self._n, self._ahead, self._args = n, ahead, (cwd, kernel_name)
        first = n if ahead is None else min(n, ahead)
        self._futures: list[Future] = [self._pool.submit(_start, cwd, kernel_name) for _ in range(first)]
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> Any | None:
        """The next warm kernel manager (waiting for it if it is still starting), or None when none is left
        or it failed to start."""
        with self._lock:
            if self._next >= len(self._futures):
                return None
            fut = self._futures[self._next]
            self._next += 1
            if len(self._futures) < self._n:  # keep ``ahead`` kernels starting or waiting
                self._futures.append(self._pool.submit(_start, *self._args))
        try:
            return fut.result()
        except Exception:  # noqa: BLE001 - a cold kernel will do
            return None

    def close(self) -> None:
        """Stop the kernels nobody took (waits for any still starting)."""
        with self._lock:
            left, self._next = self._futures[self._next:], len(self._futures)
        for fut in left:
            fut.cancel()
        self._pool.shutdown(wait=True)
        for fut in left:
            if not fut.cancelled() and fut.exception() is None:
                shutdown(fut.result())
