"""Where prometheus_client's multiprocess mode keeps its files.

Every process of one `authcore serve` (the supervisor's workers, or the one
process) writes its metric values to mmap'ed files in one directory, and a
scrape answered by any worker sums them (authcore.metrics). prometheus_client
chooses that mode when it is imported, from PROMETHEUS_MULTIPROC_DIR, so
`prepare` runs in cli.main before anything imports authcore.metrics; workers
inherit the variable.

No prometheus_client import at module level here: the supervisor calls this
before the variable is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("authcore.metrics")

ENV = "PROMETHEUS_MULTIPROC_DIR"
# Under the data directory: <data_dir>/metrics/<pid of the serving start>/.
PARENT = "metrics"


def prepare(data_dir: Path) -> Path:
    """A fresh, empty directory for this start's metric files, exported in
    PROMETHEUS_MULTIPROC_DIR (also to the workers started later).

    One directory per start (named by this process's pid), not one shared
    one: emptying a shared directory at start would wipe the files of a
    server still running on the same data directory (a second `serve` that
    then fails to bind its ports). Directories of starts whose process is
    gone are removed."""
    parent = data_dir / PARENT
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in parent.iterdir():
        if entry.is_dir() and entry.name.isdigit() and not _alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)
    path = parent / str(os.getpid())
    # Our own pid's directory can only be a leftover of a dead process that
    # had this pid: empty it.
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700)
    os.environ[ENV] = str(path)
    return path


def mark_dead(pid: int) -> None:
    """A worker exited: its live gauges (pool in use, queue depth) stop
    counting. Its counters stay, so totals never go down."""
    path = os.environ.get(ENV)
    if not path:
        return
    from prometheus_client import multiprocess

    try:
        multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
    except OSError as exc:
        log.warning("metrics: cannot remove the files of process %d: %s", pid, exc)


def remove(path: Path | None) -> None:
    """At a clean stop: nobody reads this start's files any more."""
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # somebody else's process: not ours to judge
    with contextlib.suppress(OSError):
        # A zombie is gone for our purposes.
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    return True
