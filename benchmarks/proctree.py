"""Peak memory of a process and all its descendants, sampled while it runs.

A run of cemkit is several processes (the CLI and one notebook kernel per notebook, two running at a time):
the largest single process understates what a user's machine needs. :class:`TreeSampler` walks the process
tree every ``interval`` seconds (psutil) and keeps

* ``peak_sum``: the largest sum of resident memory (RSS) over all live processes of the tree at one instant
  (what the machine must hold at once; shared library pages are counted in each process, as ``top`` does);
* ``peak_pss``: the largest sum of proportional set sizes (PSS, ``/proc/PID/smaps_rollup``: a page shared by
  k processes counts 1/k in each), i.e. the tree's real footprint without double-counting shared libraries;
* ``peak_max``: the largest RSS of any one process;
* per process: its peak RSS, its last seen CPU time (user + system) and a short label from its command line.

Sampling every 50 ms can miss a peak shorter than that; the kernel's own high-water mark of the root
process (``ru_maxrss``) is a cross-check for the largest one.

``limit`` (bytes, 0 = none): when the tree's RSS sum passes it, every process of the tree is killed (children
first) and ``stopped`` records when and at what sum — a run that would crowd a shared machine is stopped
and still measured.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Self

import psutil


@dataclass
class ProcPeak:
    pid: int
    label: str
    first_seen: float
    peak_rss: int = 0
    cpu: float = 0.0


@dataclass
class TreeSampler:
    root_pid: int
    interval: float = 0.05
    peak_sum: int = 0
    peak_pss: int = 0
    peak_max: int = 0
    samples: int = 0
    procs: dict[int, ProcPeak] = field(default_factory=dict)
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, RSS sum)
    at_peak: dict[int, int] = field(default_factory=dict)  # pid → RSS at the instant of the largest sum
    limit: int = 0
    stopped: tuple[float, int] | None = None  # (seconds since start, RSS sum) when the limit stopped the run

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, name="proctree-sampler", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        try:
            root = psutil.Process(self.root_pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            self.sample(root)
            self._stop.wait(self.interval)

    def sample(self, root: psutil.Process) -> None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        now = time.perf_counter() - self._t0
        total = pss_total = 0
        now_rss: dict[int, int] = {}
        for p in tree:
            try:
                with p.oneshot():
                    rss = p.memory_info().rss
                    cpu = sum(p.cpu_times()[:2])
                    rec = self.procs.get(p.pid)
                    if rec is None:
                        rec = self.procs[p.pid] = ProcPeak(p.pid, _label(p), now)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            total += rss
            now_rss[p.pid] = rss
            pss_total += _pss(p.pid) or rss
            rec.peak_rss = max(rec.peak_rss, rss)
            rec.cpu = max(rec.cpu, cpu)
            self.peak_max = max(self.peak_max, rss)
        if total > self.peak_sum:
            self.peak_sum, self.at_peak = total, now_rss
        self.peak_pss = max(self.peak_pss, pss_total)
        self.samples += 1
        self.timeline.append((now, total))
        if self.limit and total > self.limit and self.stopped is None:
            self.stopped = (now, total)
            for p in reversed(tree):  # the run's own processes, children first
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass

    def report(self) -> list[str]:
        """Lines for a terminal: the tree's peaks, then one line per process (largest first)."""
        mb = 1024 * 1024
        head = (f"peak memory summed over the process tree {self.peak_sum / mb:,.0f} MB RSS "
                f"({self.peak_pss / mb:,.0f} MB PSS, shared pages counted once); largest process "
                f"{self.peak_max / mb:,.0f} MB; {len(self.procs)} processes, {self.samples} samples "
                f"every {self.interval * 1000:.0f} ms")
        lines = [head, "  at that instant: " + ", ".join(
            f"{self.procs[pid].label} {rss / mb:,.0f}" for pid, rss in sorted(self.at_peak.items(), key=lambda x: -x[1]))]
        for rec in sorted(self.procs.values(), key=lambda r: -r.peak_rss):
            lines.append(f"  pid {rec.pid:>7} {rec.label:<24} peak {rec.peak_rss / mb:>7,.0f} MB  "
                         f"cpu {rec.cpu:>6.1f} s  from {rec.first_seen:>6.1f} s")
        return lines


def _pss(pid: int) -> int:
    """Proportional set size in bytes (0 when the kernel or permissions do not tell)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _label(p: psutil.Process) -> str:
    """'cemkit run', 'kernel', or the executable's name."""
    try:
        cmd = p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return "?"
    text = " ".join(cmd)
    if "ipykernel" in text:
        return "notebook kernel"
    if "cemkit" in text:
        return "cemkit " + next((c for c in cmd if c in ("run", "demo", "render")), "")
    return (cmd[0].rsplit("/", 1)[-1] if cmd else p.name())[:24]
