"""When, on what machine and with what settings a benchmark run was taken: the header and the JSON's context.

Absolute requests/s move with whatever else runs on the machine, so every run
records the load average before it started next to its settings; a reader
compares runs taken in similar conditions, and ratios within a run.
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Mapping
from typing import Any

from wrk_load import wrk_version


def run_context(settings: Mapping[str, object]) -> dict[str, Any]:
    return {
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(load, 2) for load in os.getloadavg()],
            "python": platform.python_version(),
            "wrk": wrk_version(),
        },
        "settings": dict(settings),
    }


def machine_line(context: Mapping[str, Any]) -> str:
    machine = context["machine"]
    return f"machine: {machine['cpus']} cpus, load average {machine['load_average_before']} before the run"
