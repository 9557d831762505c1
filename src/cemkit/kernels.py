"""Notebook kernels started ahead of time, while the run checks its inputs and while the ingest notebook runs.

Starting a kernel and importing cemkit's stack (pandas, pyarrow, scipy, matplotlib) costs ≈ 2–3 CPU-s per
notebook here (`benchmarks/bench_run.py`). :class:`WarmKernels` starts one fresh kernel per notebook on a
background thread, one after another, and runs :data:`WARM_CODE` in it (with ``store_history=False``: the
notebook's execution counts still start at 1): the ingest notebook's kernel starts while the run checks the
template and the sentiment model (before the run folder exists: :meth:`WarmKernels.take` then moves it into
the notebook's folder), the analysis notebooks' kernels while ``01_data_check`` leaves the second core mostly
idle. Each kernel serves exactly one notebook, so notebooks stay as isolated as with papermill's own
kernels; a kernel that failed to start is simply not used (papermill then starts one as usual). Every kernel
is shut down when its notebook ends, and those never used when the run ends.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["KERNEL_ARGS", "WARM_CODE", "WarmKernels", "shutdown"]

#: no kernel chatter on stderr
KERNEL_ARGS = ["--IPKernelApp.log_level=50"]
#: what every notebook imports first (the figures' fonts and theme included: ≈ 0.6 CPU-s of each notebook)
WARM_CODE = "import cemkit.views, cemkit.figures; cemkit.figures.setup()"


def _start(cwd: Path | None, kernel_name: str) -> Any:
    """A started kernel (in ``cwd``; None: this process's folder) that has run :data:`WARM_CODE`."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = AsyncKernelManager(kernel_name=kernel_name)
    run_sync(km.start_kernel)(extra_arguments=KERNEL_ARGS, **({"cwd": str(cwd)} if cwd is not None else {}))
    try:
        _run(km, WARM_CODE)
    except BaseException:
        shutdown(km)
        raise
    return km


def _run(km: Any, code: str) -> None:
    """Run ``code`` in the kernel silently (no history, no output kept); an error in it raises."""
    from jupyter_core.utils import run_sync

    kc = km.client()
    kc.start_channels()
    try:
        run_sync(kc.wait_for_ready)(timeout=60)
        reply = run_sync(kc.execute_interactive)(code, store_history=False, timeout=120,
                                                 output_hook=lambda msg: None)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"warm-up failed in a notebook kernel: {reply['content'].get('evalue')}")
    finally:
        kc.stop_channels()


def shutdown(km: Any) -> None:
    """Stop a kernel (quietly: at the end of a run a kernel that is already gone is fine)."""
    from jupyter_core.utils import run_sync

    try:
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001, S110 - best effort at clean-up: the kernel may already be gone
        pass


class WarmKernels:
    """``n`` kernels started in order on one background thread; :meth:`take` hands out the next one.

    At most ``ahead`` kernels wait unused at a time (the next one starts when one is taken; :meth:`keep`
    changes it as the run goes): an idle kernel holds
    ≈ 240 MB, and during ingest — the run's peak — five idle kernels were a third of the memory the run needed
    (docs/scale.md). ``ahead=None`` starts all ``n`` at once. ``cwd`` is the folder kernels start in (None:
    this process's); :meth:`move` changes it for the kernels not started yet."""

    def __init__(self, n: int, cwd: Path | None, kernel_name: str = "python3", ahead: int | None = 2):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cemkit-warm")
        self._n, self.ahead, self._name, self._cwd = n, ahead, kernel_name, cwd
        self._futures: list[tuple[Future, Path | None]] = []  # each kernel and the folder it started in
        self._next = 0
        self._lock = threading.Lock()
        with self._lock:
            self._top_up()

    def _top_up(self) -> None:
        """Start kernels until ``ahead`` are starting or waiting (with the lock held)."""
        while len(self._futures) < self._n and (self.ahead is None or len(self._futures) - self._next < self.ahead):
            self._futures.append((self._pool.submit(_start, self._cwd, self._name), self._cwd))

    def keep(self, ahead: int | None) -> None:
        """Keep ``ahead`` kernels starting or waiting from now on (more start at once if needed)."""
        with self._lock:
            self.ahead = ahead
            self._top_up()

    def move(self, cwd: Path) -> None:
        """Start the kernels not started yet in ``cwd``."""
        with self._lock:
            self._cwd = cwd
            pending = [(f, c) for f, c in self._futures[self._next:]]
            for i, (fut, _) in enumerate(pending, start=self._next):
                if fut.cancel():  # still queued: start it in the new folder
                    self._futures[i] = (self._pool.submit(_start, cwd, self._name), cwd)

    def take(self, cwd: Path | None = None) -> Any | None:
        """The next warm kernel manager (waiting for it if it is still starting), or None when none is left
        or it failed to start. With ``cwd``, a kernel started elsewhere is moved into that folder first."""
        with self._lock:
            if self._next >= len(self._futures):
                return None
            fut, started_in = self._futures[self._next]
            self._next += 1
            self._top_up()  # keep ``ahead`` kernels starting or waiting
        try:
            km = fut.result()
        except Exception:  # noqa: BLE001 - a cold kernel will do
            return None
        if cwd is not None and started_in != cwd:
            try:
                _run(km, f"import os; os.chdir({str(cwd)!r})")  # our own run folder, not client data
            except Exception:  # noqa: BLE001 - a cold kernel will do
                shutdown(km)
                return None
        return km

    def close(self) -> None:
        """Stop the kernels nobody took (waits for any still starting)."""
        with self._lock:
            left, self._next = self._futures[self._next:], len(self._futures)
        for fut, _ in left:
            fut.cancel()
        self._pool.shutdown(wait=True)
        for fut, _ in left:
            if not fut.cancelled() and fut.exception() is None:
                shutdown(fut.result())
