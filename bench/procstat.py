"""Memory and CPU of server processes, read from /proc (Linux)."""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time so far of the given processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name may contain spaces: fields are counted after its closing parenthesis.
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


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
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory_gib": round(total_kib / 1024 / 1024, 1),
            "kernel": os.uname().release, "load_at_start": [round(x, 2) for x in load]}
