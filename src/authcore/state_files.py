"""The data directory's permissions: the SQLite database holds the password
hashes and the outbox, and master.key unseals every seed, so nothing in it
may be readable by other local users."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("authcore.state_files")

PRIVATE_DIR = 0o700


def restrict_new_files() -> None:
    """Every file and directory this process creates from now on is its
    owner's alone (0600 / 0700): SQLite creates its database, WAL and shm
    files with the process's umask."""
    os.umask(0o077)


def make_data_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def too_open(path: Path) -> list[tuple[Path, int]]:
    """The data directory and the files directly in it that group or others
    can read, write or enter, with their modes."""
    found: list[tuple[Path, int]] = []
    try:
        entries = [path, *path.iterdir()]
    except OSError:
        return found
    for entry in entries:
        try:
            mode = stat.S_IMODE(entry.lstat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            found.append((entry, mode))
    return found


def warn_if_too_open(path: Path) -> int:
    """Log one warning per entry of `too_open`; returns how many."""
    found = too_open(path)
    for entry, mode in found:
        log.warning("%s is readable by other users (mode %o): run chmod %s %s", entry, mode,
                    "700" if entry.is_dir() else "600", entry)
    return len(found)
