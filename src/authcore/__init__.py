"""authcore: a self-hostable authentication core."""

from __future__ import annotations

from pathlib import Path

# The protoc output for package authcore.v1 lives in generated/authcore/v1 and
# joins this package as the subpackage authcore.v1. Adding it to __path__
# (instead of putting generated/ on sys.path as a second `authcore`) keeps
# `import authcore` pointing at this directory, always.
_GENERATED = Path(__file__).resolve().parents[2] / "generated" / "authcore"
if _GENERATED.is_dir():
    __path__.append(str(_GENERATED))

__version__ = "0.1.0"
