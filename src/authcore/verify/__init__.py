"""Pure credential verification primitives.

One ceremony per module (password, otp, grid, kba, temp_code), each exposing
``generate_*`` / ``verify_*`` functions with keyword-only arguments, frozen
dataclass results and a single ``VerificationError`` subclass carrying a
stable ``reason`` slug. Nothing here performs I/O: persistence, rate limiting
and replay bookkeeping belong to the caller.
"""

from __future__ import annotations
