"""The data directory is private: `authcore migrate` creates it 0700 and the
database files 0600 whatever the caller's umask, and warns about entries
that are wider (state_files.py)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def _migrate(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHCORE_")}
    env["AUTHCORE_DATA_DIR"] = str(data_dir)
    # A permissive umask, as a login shell has: the server must not inherit it.
    return subprocess.run(
        ["/bin/sh", "-c", f"umask 022; exec {sys.executable} -m authcore.cli migrate"],
        env=env, capture_output=True, text=True, timeout=120, check=True)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_directory_and_database_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = _migrate(data)
    assert _mode(data) == 0o700
    files = sorted(p for p in data.iterdir() if p.is_file())
    assert any(p.name == "authcore.db" for p in files)
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert "readable by other users" not in done.stderr


def test_wider_existing_files_are_warned_about(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _migrate(data)
    os.chmod(data, 0o755)
    os.chmod(data / "authcore.db", 0o644)
    done = _migrate(data)
    warned = [line for line in done.stderr.splitlines() if "readable by other users" in line]
    assert len(warned) == 2, done.stderr
    assert any("authcore.db" in line and "644" in line for line in warned)
    assert any("mode 755" in line for line in warned)
