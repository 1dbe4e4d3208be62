"""Workers that share no disk, on one machine.

Separate folder names prove nothing: a worker that reads a path another worker wrote would still
find the file. So each worker runs in its own mount namespace (``unshare --mount``) where

- a tmpfs is mounted over its private folder (Airflow home, logs, the project's state and
  scratch folders, TMPDIR): what it writes there exists for its own processes only, and
  disappears with them;
- the launcher's run folder (the other components' folders, the portal's and the mailbox's
  state) is mounted read-only: a worker writing anywhere shared fails at once (EROFS) instead of
  working by accident on one machine.

Mount namespaces with tmpfs mounts need root (or a user namespace the kernel allows) and
util-linux's ``unshare``. :func:`unavailable` says why when they cannot be had; the launcher
then says so and uses plain separate folders (a weaker proof).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

# Runs inside the new namespace, then becomes the worker (exec: the worker keeps the pid the
# launcher knows, and signals reach it directly). Arguments: the read-only folder, the private
# folder, the subfolders to create in it, "--", the command.
_SCRIPT = r"""
ro=$1; private=$2; shift 2
mount --bind "$ro" "$ro"
mount -o remount,bind,ro "$ro"
mount -t tmpfs -o mode=0700 opendata-private "$private"
while [ "$1" != -- ]; do mkdir -p "$private/$1"; shift; done
shift
exec "$@"
"""


def unavailable(probe_dir: Path) -> str | None:
    """None when private mounts work here; otherwise why not, in words for the operator."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "the unshare command (util-linux) is not installed"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not running as root (a mount namespace with a tmpfs mount needs root here)"
    probe_dir.mkdir(parents=True, exist_ok=True)
    try:
        probe = subprocess.run(
            [unshare, "--mount", "--propagation", "private", "sh", "-c",
             'mount -t tmpfs opendata-probe "$1" && umount "$1"', "probe", str(probe_dir)],
            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare --mount failed ({exc})"
    if probe.returncode != 0:
        return f"unshare --mount failed: {' '.join((probe.stderr or probe.stdout).split())[:200]}"
    return None


def isolated(command: list[str], private: Path, read_only: Path, subfolders: list[str]) -> list[str]:
    """``command`` wrapped to run in its own mount namespace: ``private`` (inside ``read_only``)
    a fresh tmpfs holding ``subfolders``, the rest of ``read_only`` read-only."""
    if not private.resolve().is_relative_to(read_only.resolve()):
        raise ValueError(f"{private} must be inside {read_only}")
    private.mkdir(parents=True, exist_ok=True)   # the mount point, empty on the shared disk
    return [shutil.which("unshare") or "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-euc", _SCRIPT, "isolate", str(read_only), str(private), *subfolders, "--", *command]
