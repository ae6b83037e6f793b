"""What every benchmark reports, and the table `make bench` writes from it.

A benchmark measures each figure at least 3 times, beside the baseline measured in the same run, and
calls `record(...)`: the figure is printed, and appended as a JSON line to `$BENCH_FIGURES` when
`bench/run_all.py` runs it. `run_all.py` then writes the table (Markdown and JSON) under bench/results/.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    benchmark: str
    name: str
    unit: str  # "/s" (higher is better), "s", "ms" or "MB" (lower is better)
    runs: list[float]
    baseline: str | None = None
    baseline_runs: list[float] = field(default_factory=list)
    target: str | None = None
    met: bool | None = None  # None: no target, or not comparable
    note: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def baseline_median(self) -> float | None:
        return statistics.median(self.baseline_runs) if self.baseline_runs else None

    @property
    def ratio(self) -> float | None:
        """The figure against its baseline, as 'how many times the baseline' (rates) or 'x slower'."""
        base = self.baseline_median
        if not base:
            return None
        return self.median / base


def record(figure: Figure) -> Figure:
    if len(figure.runs) < 3:
        raise ValueError(f"{figure.name}: a figure is the median of at least 3 runs")
    print(row(figure), flush=True)
    sink = os.environ.get("BENCH_FIGURES")
    if sink:
        with open(sink, "a") as out:
            out.write(json.dumps(asdict(figure)) + "\n")
    return figure


def load(path: Path) -> list[Figure]:
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def number(value: float, unit: str) -> str:
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.2f} {unit}"


HEADER = "| benchmark | figure | median | min | max | baseline (median) | ratio | target | met |"
RULE = "|---|---|---|---|---|---|---|---|---|"


def row(figure: Figure) -> str:
    unit = figure.unit
    baseline = (
        f"{figure.baseline}: {number(figure.baseline_median, unit)}"
        if figure.baseline and figure.baseline_median is not None
        else "—"
    )
    ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "—"
    met = {True: "yes", False: "**no**", None: "—"}[figure.met]
    cells = [
        figure.benchmark,
        figure.name,
        number(figure.median, unit),
        number(min(figure.runs), unit),
        number(max(figure.runs), unit),
        baseline,
        ratio,
        figure.target or "—",
        met,
    ]
    return "| " + " | ".join(cells) + " |"


def machine() -> dict[str, str]:
    """What the figures were measured on."""

    def run(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "unknown"

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{memory_kb / 1024 / 1024:.0f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": run("psql", "--version"),
        "rabbitmq": run("rabbitmqctl", "version"),
    }
