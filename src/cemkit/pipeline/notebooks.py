"""Running the pipeline's notebooks: one notebook by papermill in a kernel (a warm one from
:mod:`cemkit.kernels` when ready), and the analysis notebooks scheduled on a pool of workers — in the order
their metadata allows (``after``), at most one that holds rows at a time on a large run (``light`` ones beside
it). A notebook's error becomes bad input (exit 2) when it is a :class:`~cemkit.errors.UserError`.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import InputError, UserError
from ..kernels import KERNEL_ARGS, WarmKernels, shutdown
from ..paths import notebooks_dir


def user_error_names() -> set[str]:
    """Names of the exceptions that mean bad input (exit 2) when a notebook raises them — papermill reports
    only the class name: :class:`~cemkit.errors.UserError` and every subclass (InputError, PackError,
    DataError, the prediction's LeakageError, …)."""
    from .. import predict  # noqa: F401  (defines LeakageError)

    names, todo = set(), [UserError]
    while todo:
        c = todo.pop()
        names.add(c.__name__)
        todo.extend(c.__subclasses__())
    return names


def notebook_list() -> list[Path]:
    """The pipeline notebooks in run order (NN_name.ipynb)."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def _kernel_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) a live process has used, from ``/proc`` (None where there is none)."""
    try:
        with open(f"/proc/{int(pid)}/stat", encoding="ascii") as fh:  # type: ignore[arg-type]
            fields = fh.read().rsplit(")", 1)[1].split()  # after the command name: state is the first
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def _execute(nb: Path, out_nb: Path, params: dict, cwd: Path, warm: WarmKernels | None = None,
             kernels: dict | None = None) -> float:
    """Run one notebook with papermill, in a kernel from ``warm`` when one is ready (else a new one). With
    ``kernels`` (a dict), record the notebook's kernel there: its process id and the CPU seconds it used
    (run.json's ``kernels``: what each notebook costs, and which process ran it for the benchmarks)."""
    import logging

    import papermill as pm
    from jupyter_client.manager import AsyncKernelManager

    logging.getLogger("papermill").setLevel(logging.ERROR)
    from papermill.exceptions import PapermillExecutionError

    start = time.perf_counter()
    km = warm.take(cwd) if warm is not None else None
    if km is None:  # not started: nbclient starts it (in ``cwd``, with KERNEL_ARGS); ours to shut down
        km = AsyncKernelManager(kernel_name="python3")
    try:
        pm.execute_notebook(str(nb), str(out_nb), parameters=params, kernel_name="python3", progress_bar=False,
                            log_output=False, request_save_on_cell_execute=False, extra_arguments=KERNEL_ARGS,
                            km=km, resources={"metadata": {"path": str(cwd)}})
        # the kernel's working folder goes through nbclient's resources, not papermill's ``cwd``: that one
        # calls os.chdir, which is process-wide and races between the notebooks run side by side
    except PapermillExecutionError as exc:
        if exc.ename in user_error_names():
            raise InputError(f"{exc.evalue} (notebook {nb.name})") from None
        if "[Errno 28]" in exc.evalue or "No space left on device" in exc.evalue:
            raise OSError(errno.ENOSPC, "No space left on device", f"notebook {nb.name}") from None
        raise RuntimeError(f"notebook {nb.name} failed: {exc.ename}: {exc.evalue}") from exc
    finally:
        if kernels is not None:
            pid = getattr(getattr(km, "provisioner", None), "pid", None)
            kernels[nb.stem] = {"pid": pid, "cpu_s": _kernel_cpu(pid)}
        shutdown(km)  # papermill shuts down only the kernels it started
    return time.perf_counter() - start


#: responses from which the analysis notebooks that hold rows run one at a time (a notebook whose metadata says
#: ``{"cemkit": {"light": true}}`` — the journey, SQL aggregates only — still runs beside them): at 10M responses
#: two of them side by side needed 4.8 GB together (docs/scale.md)
ONE_AT_A_TIME_ROWS = 4_000_000


def _meta(nb: Path) -> dict:
    """A notebook's ``cemkit`` metadata."""
    import nbformat

    return dict(nbformat.read(str(nb), as_version=4).metadata.get("cemkit") or {})


def _after(nb: Path) -> list[str]:
    """Notebooks this one must wait for, from its metadata ``{"cemkit": {"after": [...]}}``."""
    return list(_meta(nb).get("after") or [])


def _execute_after(after: list, nb: Path, out_nb: Path, params: dict, cwd: Path,
                   warm: WarmKernels | None = None, one_at_a_time: Any = None, kernels: dict | None = None) -> float:
    """Run ``nb`` once the notebooks in ``after`` (futures) are done; with ``one_at_a_time`` (a lock, on a large
    run) a notebook not marked light holds it while it runs, so two such notebooks never run side by side."""
    for fut in after:
        fut.result()  # re-raises the dependency's error
    if one_at_a_time is None or _meta(nb).get("light"):
        return _execute(nb, out_nb, params, cwd, warm, kernels)
    with one_at_a_time:
        return _execute(nb, out_nb, params, cwd, warm, kernels)


def _submit_notebooks(pool: ThreadPoolExecutor, rest: list[Path], nb_dir: Path, params: dict,
                      warm: WarmKernels | None, one_at_a_time: bool = False,
                      kernels: dict | None = None) -> dict[str, Any]:
    """The analysis notebooks submitted to ``pool`` (as many side by side as it has workers; with
    ``one_at_a_time``, at most one that holds rows): a future per notebook, in submission order."""
    lock = threading.Lock() if one_at_a_time else None
    futures: dict[str, Any] = {}
    # a notebook may wait for others (metadata cemkit.after), e.g. actions after text: those are queued
    # last, so no worker sits waiting while independent notebooks could run
    for nb in sorted(rest, key=lambda nb: bool(_after(nb))):
        after = [futures[a] for a in _after(nb) if a in futures]
        futures[nb.stem] = pool.submit(_execute_after, after, nb, nb_dir / nb.name, params, nb_dir, warm, lock,
                                       kernels)
    return futures


def _responses_rows(run_dir: Path) -> int:
    """Rows of the run's clean response table (from the parquet footer), 0 when there is none."""
    path = run_dir / "data" / "responses.parquet"
    if not path.exists():
        return 0
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)
