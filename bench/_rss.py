"""Peak memory of the stack's processes while a benchmark runs: a background sampler of
/proc/<pid>/status (VmRSS every interval, VmHWM at the end) for Kafka, Trino and every JVM
this process started (spark-submit's driver).

    with RssSampler.for_stack(settings) as rss:
        run_the_scenario()
    result["peak_rss_mb"] = rss.summary()
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

_PROC = Path("/proc")


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) of one process; empty if it is gone."""
    out: dict[str, int] = {}
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (OSError, ValueError):
        return {}
    return out


def descendants(root: int) -> list[int]:
    """Every live process below `root` in the process tree."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _is_jvm(pid: int) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("java")
    except OSError:
        return False


class RssSampler:
    """Samples named processes every `interval_s`; `summary()` is the peak per name (MB).

    `fixed` maps a name to a pid known up front (a service); JVMs started below this process
    are grouped under `children_name` — several in one run (one per stage) keep the largest.
    """

    def __init__(self, fixed: dict[str, int], children_name: str = "spark",
                 interval_s: float = 0.5):  # fmt: skip
        self.fixed = fixed
        self.children_name = children_name
        self.interval_s = interval_s
        self.peak_rss_kb: dict[str, int] = {}
        self.peak_hwm_kb: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)

    @classmethod
    def for_stack(cls, settings: Any, interval_s: float = 0.5) -> RssSampler:
        """A sampler of the profile's running services (Kafka, Trino) and our Spark JVMs."""
        from gamelake.runtime import stack

        pids = {s.name: s.pid for s in stack.status(settings) if s.pid is not None}
        return cls(pids, interval_s=interval_s)

    def sample(self) -> None:
        """One reading of every process; keeps the per-name maximum."""
        targets = [(name, pid) for name, pid in self.fixed.items()]
        targets += [(self.children_name, pid) for pid in descendants(os.getpid()) if _is_jvm(pid)]
        for name, pid in targets:
            kb = status_kb(pid)
            if "VmRSS" in kb:
                self.peak_rss_kb[name] = max(self.peak_rss_kb.get(name, 0), kb["VmRSS"])
            if "VmHWM" in kb:
                self.peak_hwm_kb[name] = max(self.peak_hwm_kb.get(name, 0), kb["VmHWM"])
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        self.seconds = time.perf_counter() - self._started

    def summary(self) -> dict[str, Any]:
        """Peak sampled RSS and the kernel's high-water mark per process name, in MB.

        A service's VmHWM covers its whole life (it may predate this run); the sampled peak
        covers only this run.
        """
        names = sorted(set(self.peak_rss_kb) | set(self.peak_hwm_kb))
        return {
            "processes": {
                n: {
                    "peak_rss_sampled_mb": round(self.peak_rss_kb.get(n, 0) / 1024, 1),
                    "vm_hwm_mb": round(self.peak_hwm_kb.get(n, 0) / 1024, 1),
                }
                for n in names
            },
            "interval_s": self.interval_s,
            "samples": self.samples,
        }
