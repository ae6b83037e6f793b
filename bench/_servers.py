"""Processes the benchmarks start: the service under test, and the bare FastAPI app of the baselines."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chorus_testing.platform import load_launcher

ROOT = Path(__file__).resolve().parents[1]

# A FastAPI app with one endpoint returning a constant, under uvicorn with the services' settings.
BARE_APP = """
import sys
import uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/constant")
async def constant() -> dict[str, str]:
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def bare_app(port: int) -> list[str]:
    return [sys.executable, "-c", BARE_APP, str(port)]


@contextmanager
def serving(command: list[str], ready_url: str, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`command` started and answering 200 on `ready_url`; stopped on leaving."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        if not load_launcher().wait_ready(ready_url, process, deadline=time.monotonic() + 60):
            raise RuntimeError(f"{ready_url} did not answer")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
