"""CPU time read from Linux ``/proc``: of each process, of a process group, and of the whole machine.

The benchmarks read these just before and after a measured window: a server's
CPU seconds divided by the requests it completed is its CPU cost per request,
which leaves out the time it waited and the load generator's share of the
machine.  The machine's busy time over the same window says how much of the
two cores the run used and how much the neighbours did.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessCpu:
    pid: int
    group: int  # the process group
    cpu_s: float  # user + system, since the process started


def processes() -> Iterator[ProcessCpu]:
    """Every live process's CPU time so far (those that end while /proc is read are skipped)."""
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the command name, which is in parentheses and may hold spaces: state is [0],
            # pgrp [2], utime [11], stime [12] (proc(5)).
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        yield ProcessCpu(int(entry.name), int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND)


def group_cpu_by_process(group: int) -> dict[int, float]:
    """CPU seconds of each live process of process group ``group``, by pid."""
    return {process.pid: process.cpu_s for process in processes() if process.group == group}


def group_cpu_seconds(group: int) -> float:
    """User + system CPU seconds of the live processes whose process group is ``group``."""
    return sum(group_cpu_by_process(group).values())


def command_line(pid: int) -> str:
    """The process's command line with spaces between the arguments ('' if it ended or is unreadable)."""
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent not idle since boot, all processes together (/proc/stat)."""
    fields = [int(value) for value in (_PROC / "stat").read_text().splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq: guest time is already in user and nice, and steal (time the
    # hypervisor gave to others) is not work done here.
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / _TICKS_PER_SECOND
