"""`make bench`: run every benchmark in bench/, then write and print one table of their figures.

Each script records its figures (median of at least 3 runs, min, max, and the baseline measured in the
same run); this writes them to bench/results/<date>.md and .json with the machine's description.

Usage: uv run python bench/run_all.py [--only NAME ...] [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from _figures import HEADER, RULE, Figure, load, machine, row

BENCH = Path(__file__).resolve().parent


# Run last: it loads a million rows, and PostgreSQL writing them out afterwards would disturb the
# latency figures of the benchmarks after it.
RUN_LAST = ("deadline_sweep",)


def scripts(only: list[str] | None) -> list[Path]:
    found = sorted(
        (p for p in BENCH.glob("*.py") if not p.name.startswith("_") and p.name != "run_all.py"),
        key=lambda p: (p.stem in RUN_LAST, p.name),
    )
    return [p for p in found if not only or p.stem in only]


def notes(figures: list[Figure]) -> list[str]:
    written = [f"- {figure.benchmark}, {figure.name}: {figure.note}" for figure in figures if figure.note]
    return ["Notes:", "", *written, ""] if written else []


def markdown(figures: list[Figure], described: dict[str, str], durations: dict[str, float], day: str) -> str:
    lines = [
        f"# Benchmarks, {day}",
        "",
        "Machine: " + "; ".join(f"{key} {value}" for key, value in described.items()),
        "",
        "Each figure is the median of at least 3 runs, with min and max, beside its baseline measured in"
        " the same run (ratio = figure / baseline).",
        "",
        HEADER,
        RULE,
        *(row(figure) for figure in figures),
        "",
        *notes(figures),
        "Time of each benchmark script: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in durations.items()),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", help="run only this benchmark (file stem; repeatable)")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    failed = []
    durations: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        sink = Path(scratch) / "figures.jsonl"
        sink.touch()
        for script in scripts(args.only):
            print(f"== {script.name}", flush=True)
            started = time.monotonic()
            done = subprocess.run(
                [sys.executable, str(script)], env={**os.environ, "BENCH_FIGURES": str(sink)}, check=False
            )
            durations[script.stem] = time.monotonic() - started
            if done.returncode != 0:
                failed.append(script.name)
        figures = load(sink)
    day = datetime.now(UTC).date().isoformat()
    described = machine()
    table = markdown(figures, described, durations, day)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{day}.md").write_text(table)
    (args.results / f"{day}.json").write_text(
        json.dumps(
            {
                "date": day,
                "machine": described,
                "durations": durations,
                "figures": [asdict(f) for f in figures],
            },
            indent=2,
        )
        + "\n"
    )
    print()
    print(table)
    print(f"written to {args.results / day}.md and .json")
    if failed:
        print("benchmarks that failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
