"""The rows of the scaling benchmark, and the table, per-process CPU and limits it prints from them.

A row is a *configuration*: a family (the ceiling on one port or on several,
kmsd on SQLite, kmsd on PostgreSQL) and a number of server processes.  Each row
is compared with two others measured in the same run: the same family with one
process (the scaling) and the ceiling with as many processes in the same shape
(the share of what the server stack alone could do).  With several rounds, a
row shows the median of its rounds and a ratio the median of its per-round
ratios, each taken from rows measured seconds apart.

CPU time is divided by the requests completed in the window, so the server's,
PostgreSQL's and wrk's µs per request add up to what one request costs the
machine; ``cpus * 10**6`` over that sum is the most requests/s the machine's
cores could serve at that cost, which is what bounds the scaling here.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from postgres_db import PostgresCpu
from wrk_load import LoadResult

FAMILIES = ("ceiling-workers", "ceiling-nodes", "sqlite", "postgresql")
# Other work above this many CPUs in a window gets a warning: it takes a tenth of the machine from the run.
NOTICEABLE_OTHER_CPUS = 0.2


@dataclass(frozen=True)
class Config:
    family: str  # one of FAMILIES
    processes: int

    @property
    def label(self) -> str:
        count = self.processes
        if self.family in ("ceiling-workers", "ceiling-nodes") and count == 1:
            return "ceiling, 1 process"
        return {
            "ceiling-workers": f"ceiling, {count} workers on one port",
            "ceiling-nodes": f"ceiling, {count} processes on {count} ports",
            "sqlite": "kmsd SQLite, 1 process" if count == 1 else f"kmsd SQLite, {count} workers",
            "postgresql": f"kmsd PostgreSQL, {count} node{'s' if count > 1 else ''}",
        }[self.family]

    @property
    def measured_as(self) -> Config:
        """The row measured for this one: one ceiling process is one ceiling process in either shape."""
        return Config("ceiling-workers", 1) if self.family == "ceiling-nodes" and self.processes == 1 else self

    @property
    def single(self) -> Config:
        """The same family with one process: what this row's scaling is against."""
        return Config(self.family, 1).measured_as

    @property
    def ceiling(self) -> Config | None:
        """The ceiling with as many processes, in the same shape (one port, or one port each)."""
        if self.family == "sqlite":
            return Config("ceiling-workers", self.processes)
        if self.family == "postgresql":
            return Config("ceiling-nodes", self.processes).measured_as
        return None


@dataclass(frozen=True)
class Measurement:
    config: Config
    round: int
    load: LoadResult
    server_cpu_s: dict[str, float]  # CPU seconds over the window of each server process, by its name in the table
    postgres_cpu_s: PostgresCpu | None  # PostgreSQL's CPU seconds over the window, for the PostgreSQL rows
    machine_busy_s: float  # CPU seconds the whole machine was busy over the window, every process included

    def per_request_us(self, cpu_s: float) -> float:
        return cpu_s / self.load.requests * 1e6

    @property
    def server_us(self) -> float:
        return self.per_request_us(sum(self.server_cpu_s.values()))

    @property
    def postgres_us(self) -> float:
        cpu = self.postgres_cpu_s
        return self.per_request_us(cpu.backends_s + cpu.server_s) if cpu else 0.0

    @property
    def wrk_us(self) -> float:
        return self.per_request_us(self.load.generator_cpu_s)

    @property
    def total_us(self) -> float:
        return self.server_us + self.postgres_us + self.wrk_us

    @property
    def cores_busy(self) -> float:
        """CPUs the servers, PostgreSQL and wrk kept busy on average over the window."""
        return self.total_us * self.load.requests / 1e6 / self.load.duration_s

    @property
    def machine_cores_busy(self) -> float:
        return self.machine_busy_s / self.load.duration_s

    def summary_line(self) -> str:
        postgres = f", PostgreSQL {self.postgres_us:.0f}" if self.postgres_cpu_s else ""
        return (
            f"{self.config.label:<34} {self.load.requests_per_second:>8.0f} req/s, {self.load.requests} requests, "
            f"0 errors; CPU µs/request: server {self.server_us:.0f}{postgres}, wrk {self.wrk_us:.0f}"
        )


def rows(measurements: Sequence[Measurement]) -> list[Config]:
    """The measured configurations in the table's order: the ceilings, then kmsd on SQLite, then on PostgreSQL."""
    present = {measurement.config for measurement in measurements}
    return sorted(present, key=lambda config: (FAMILIES.index(config.family), config.processes))


def render(measurements: Sequence[Measurement], cpus: int, postgres_not_measured: str) -> str:
    sections = [_render_rows(measurements), _render_processes(measurements), _render_limits(measurements, cpus)]
    if postgres_not_measured:
        sections.append(f"kmsd PostgreSQL rows: NOT MEASURED: {postgres_not_measured}.")
    return "\n\n".join(section for section in sections if section)


def _of(measurements: Sequence[Measurement], config: Config) -> list[Measurement]:
    wanted = config.measured_as
    return [measurement for measurement in measurements if measurement.config == wanted]


def _median(measurements: Sequence[Measurement], config: Config, value: Callable[[Measurement], float]) -> float:
    return statistics.median(value(measurement) for measurement in _of(measurements, config))


def _rate(measurements: Sequence[Measurement], config: Config) -> float:
    return _median(measurements, config, lambda measurement: measurement.load.requests_per_second)


def _ratio(measurements: Sequence[Measurement], over: Config, under: Config | None) -> float | None:
    """The median of ``over``/``under`` requests/s per round (each pair measured in the same round)."""
    if under is None:
        return None
    by_round = {measurement.round: measurement for measurement in _of(measurements, under)}
    ratios = [
        measurement.load.requests_per_second / by_round[measurement.round].load.requests_per_second
        for measurement in _of(measurements, over)
        if measurement.round in by_round
    ]
    return statistics.median(ratios) if ratios else None


def _render_rows(measurements: Sequence[Measurement]) -> str:
    header = (
        f"{'configuration':<34} {'req/s':>8} {'vs 1 proc':>9} {'of ceiling':>10} "
        f"{'server':>7} {'postgres':>8} {'wrk':>6} {'total':>6}   {'CPUs busy':>9} {'machine':>7}"
    )
    lines = [
        "Encrypt, the same concurrency in every row: requests/s; scaling against one process of the same kind;",
        "share of the ceiling with as many processes in the same shape; CPU µs per request (server processes,",
        "PostgreSQL, wrk); CPUs those kept busy, and the whole machine (neighbours included). Every answer was 2xx.",
        "",
        header,
        "-" * len(header),
    ]
    for config in rows(measurements):
        postgres = _median(measurements, config, lambda m: m.postgres_us) if config.family == "postgresql" else None
        lines.append(
            f"{config.label:<34} {_rate(measurements, config):>8.0f} "
            f"{_times(_ratio(measurements, config, config.single)):>9} "
            f"{_share(_ratio(measurements, config, config.ceiling)):>10} "
            f"{_median(measurements, config, lambda m: m.server_us):>7.1f} "
            f"{'-' if postgres is None else f'{postgres:.1f}':>8} "
            f"{_median(measurements, config, lambda m: m.wrk_us):>6.1f} "
            f"{_median(measurements, config, lambda m: m.total_us):>6.1f}   "
            f"{_median(measurements, config, lambda m: m.cores_busy):>9.2f} "
            f"{_median(measurements, config, lambda m: m.machine_cores_busy):>7.2f}"
        )
    return "\n".join(lines)


def _render_processes(measurements: Sequence[Measurement]) -> str:
    lines = [
        "CPU µs per request of each process (its CPU time over the window / every request served in it;",
        "in brackets its share of the server's CPU, which shows how evenly the load was spread):",
    ]
    for config in rows(measurements):
        found = _of(measurements, config)
        server_us = _median(measurements, config, lambda m: m.server_us)
        parts = []
        for name in found[0].server_cpu_s:
            used = _median(measurements, config, _process_us(name))
            parts.append(f"{name} {used:.1f} ({used / server_us:.0%})" if server_us else f"{name} {used:.1f}")
        line = f"  {config.label + ':':<35} " + ", ".join(parts)
        if config.family == "postgresql":
            backends = _median(measurements, config, lambda m: m.per_request_us(_postgres(m).backends_s))
            server_wide = _median(measurements, config, lambda m: m.per_request_us(_postgres(m).server_s))
            line += f"; PostgreSQL: the database's backends {backends:.1f}, server-wide processes {server_wide:.1f}"
        lines.append(line)
    return "\n".join(lines)


def _render_limits(measurements: Sequence[Measurement], cpus: int) -> str:
    """What bounds each row with several processes: the CPU a request costs, against the machine's cores."""
    present = rows(measurements)
    lines = [
        f"What limits the scaling: {cpus} CPUs, shared by the server processes, wrk and PostgreSQL. At what a",
        f"request costs them in all, the cores allow at most {cpus} * 10^6 / total µs requests/s:",
    ]
    for config in present:
        if config.processes == 1:
            continue
        total = _median(measurements, config, lambda m: m.total_us)
        bound = cpus * 1e6 / total
        single = config.single
        postgres = _median(measurements, config, lambda m: m.postgres_us)
        lines.append(
            f"- {config.label}: {_times(_ratio(measurements, config, single))} one process. A request costs "
            f"{total:.0f} µs: server {_median(measurements, config, lambda m: m.server_us):.0f} "
            f"(1 process: {_median(measurements, single, lambda m: m.server_us):.0f})"
            + (f", PostgreSQL {postgres:.0f}" if config.family == "postgresql" else "")
            + f", wrk {_median(measurements, config, lambda m: m.wrk_us):.0f}; at most {bound:.0f} req/s = "
            f"{bound / _rate(measurements, single):.2f}x one process. These kept "
            f"{_median(measurements, config, lambda m: m.cores_busy):.2f} CPUs busy, other work "
            f"{_median(measurements, config, _other_cores):.2f}."
        )
    single_ceiling = Config("ceiling-workers", 1)
    if _of(measurements, single_ceiling):
        server_cores = _median(measurements, single_ceiling, lambda m: sum(m.server_cpu_s.values()) / m.load.duration_s)
        wrk_cores = _median(measurements, single_ceiling, lambda m: m.load.generator_cpu_s / m.load.duration_s)
        lines.append(
            f"One ceiling process keeps {server_cores:.2f} CPUs busy and wrk {wrk_cores:.2f}: a second process only "
            "gets what wrk (and PostgreSQL) leave of the cores, and a third adds no core, only contention. The "
            "ceiling's own scaling is the most any app gets on this machine."
        )
    others = max(_other_cores(measurement) for measurement in measurements)
    if others > NOTICEABLE_OTHER_CPUS:
        lines.append(
            f"Other work on the machine took up to {others:.2f} CPUs in a window: every number above is bounded "
            "by what it left, and a row with more processes can win more of the CPUs back from it, so its "
            "scaling may overstate what a quiet machine would show. Compare runs only at a similar load (`uptime`)."
        )
    return "\n".join(lines)


def _other_cores(measurement: Measurement) -> float:
    """CPUs busy with work other than this row's processes: neighbours, and processes that ended in the window."""
    return max(0.0, measurement.machine_cores_busy - measurement.cores_busy)


def _process_us(name: str) -> Callable[[Measurement], float]:
    return lambda measurement: measurement.per_request_us(measurement.server_cpu_s.get(name, 0.0))


def _postgres(measurement: Measurement) -> PostgresCpu:
    return measurement.postgres_cpu_s or PostgresCpu(0.0, 0.0)


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
