"""A `sitecustomize` that makes python-gssapi unimportable, as if the
`kerberos` extra had never been installed (the test venv may well have it).
Put the directory `write()` fills first on a process's PYTHONPATH, or write
it into a venv's site-packages."""

from __future__ import annotations

import textwrap
from pathlib import Path

SITECUSTOMIZE = textwrap.dedent('''
    """Test only: python-gssapi is not importable in this process."""
    import sys


    class _NoGssapi:
        def find_spec(self, name, path=None, target=None):
            if name == "gssapi" or name.startswith("gssapi."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, _NoGssapi())
''')


def write(directory: Path) -> Path:
    """`directory`/sitecustomize.py, written."""
    path = directory / "sitecustomize.py"
    path.write_text(SITECUSTOMIZE)
    return path
