"""Memory and CPU of server processes, read from /proc (Linux)."""

from __future__ import annotations

import os
import time

_TICKS = os.sysconf("SC_CLK_TCK")
_CPUCLOCK_SCHED = 2  # Linux's clockid for a process's total CPU time: (~pid << 3) | 2, as glibc builds it


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: field 0 is the state, 1 the parent, 11 and 12 utime and stime."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may contain spaces: fields are counted after its closing parenthesis.
        return stat.read().rsplit(")", 1)[1].split()


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time so far of the given processes (all their threads, ended ones too), in seconds."""
    return sum(_process_cpu(pid) for pid in pids)


def _process_cpu(pid: int) -> float:
    """One process's CPU seconds, all threads, those that ended included."""
    # The process's CPU-time clock (clock_getcpuclockid) counts in nanoseconds; utime + stime in /proc/<pid>/stat
    # are the same time in 10 ms ticks, too coarse for a step in which a light server works a few milliseconds.
    try:
        return time.clock_gettime((~pid << 3) | _CPUCLOCK_SCHED)
    except OSError:
        fields = _stat_fields(pid)
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def family(pid: int) -> list[int]:
    """The process and all its descendants: nginx's master forks the workers that do the proxying."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError):
                continue  # the process ended while we looked
    found, frontier = [pid], {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


def machine() -> dict:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "load_at_start": [round(x, 2) for x in load],
    }
