"""What the benches that time each phase in a fresh process share: the phase runner and the
peak memory a phase reports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def phase_runner(script: str) -> Callable[..., dict]:
    """``run_phase(name, env, **options)``: runs ``script --phase NAME --option=value ...`` in a
    fresh process with ``env`` and returns the JSON its last line of output holds."""

    def run_phase(name: str, env: dict, **kwargs) -> dict:
        argv = [sys.executable, script, "--phase", name] + [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items()]
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"phase {name} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    return run_phase
