"""Grid cards (Entrust IdentityGuard style).

A card is a ``rows`` x ``columns`` matrix of short random strings printed for
the user; a challenge names a few cells and the response is their values in
order. Cards are secrets: the caller seals ``GridCard.to_json()`` at rest.
Rows and columns are capped at 26 so every position can be labelled with a
single letter on the printed card.

Failure reasons (``GridVerificationError.reason``):

* ``invalid_response`` - empty, or matches no card.
* ``invalid_grid_size`` - rows, columns or chars_per_cell out of range.
* ``invalid_grid_card`` - a card (e.g. from ``from_json``) is malformed.
* ``invalid_parameters`` - unusable alphabet or challenge size.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from authcore.verify.errors import VerificationError

__all__ = [
    "DEFAULT_ALPHABET",
    "GridCard",
    "GridCell",
    "GridVerification",
    "GridVerificationError",
    "generate_grid_card",
    "generate_grid_challenge",
    "verify_grid_response",
]


class GridVerificationError(VerificationError):
    """Raised by every failure in this module."""


# 32 symbols: digits and upper-case letters minus I, O, S and Z, which are
# misread as 1, 0, 5 and 2 on printed cards.
DEFAULT_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUVWXY"

_MAX_DIMENSION: Final = 26
_MAX_CHARS_PER_CELL: Final = 3
_JSON_VERSION: Final = 1


def _normalize_response(response: str) -> str:
    return "".join(response.split()).upper()


def _is_answerable_symbol_string(value: str) -> bool:
    # A value that changes under the response normalisation could never be
    # matched, so reject it up front instead of issuing a dead card.
    return bool(value) and _normalize_response(value) == value


@dataclass(frozen=True)
class GridCell:
    """A challenged position, 0-based."""

    row: int
    column: int


@dataclass(frozen=True)
class GridVerification:
    """Accepted response; ``card_index`` is the matching card's position."""

    card_index: int


@dataclass(frozen=True)
class GridCard:
    """One grid card. ``cells[row][column]`` is the printed value."""

    rows: int
    columns: int
    chars_per_cell: int
    cells: tuple[tuple[str, ...], ...]

    def __post_init__(self) -> None:
        if not (
            1 <= self.rows <= _MAX_DIMENSION
            and 1 <= self.columns <= _MAX_DIMENSION
            and 1 <= self.chars_per_cell <= _MAX_CHARS_PER_CELL
        ):
            raise GridVerificationError("invalid_grid_card", "grid dimensions out of range")
        if len(self.cells) != self.rows or any(len(row) != self.columns for row in self.cells):
            raise GridVerificationError("invalid_grid_card", "cells do not match grid dimensions")
        for row in self.cells:
            for value in row:
                if (
                    not isinstance(value, str)
                    or len(value) != self.chars_per_cell
                    or not _is_answerable_symbol_string(value)
                ):
                    raise GridVerificationError(
                        "invalid_grid_card",
                        "each cell must be chars_per_cell upper-case non-space characters",
                    )

    def to_json(self) -> str:
        """Serialise for sealing at rest; the output contains the secret."""
        return json.dumps(
            {
                "version": _JSON_VERSION,
                "rows": self.rows,
                "columns": self.columns,
                "chars_per_cell": self.chars_per_cell,
                "cells": [list(row) for row in self.cells],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, s: str) -> GridCard:
        """Inverse of ``to_json``; validates shape and contents."""
        try:
            data: Any = json.loads(s)
        except (json.JSONDecodeError, TypeError):
            raise GridVerificationError(
                "invalid_grid_card", "grid card is not valid JSON"
            ) from None
        if not isinstance(data, dict) or data.get("version") != _JSON_VERSION:
            raise GridVerificationError("invalid_grid_card", "unsupported grid card encoding")
        rows = _json_int(data, "rows")
        columns = _json_int(data, "columns")
        chars_per_cell = _json_int(data, "chars_per_cell")
        raw_cells = data.get("cells")
        if not isinstance(raw_cells, list) or not all(isinstance(r, list) for r in raw_cells):
            raise GridVerificationError("invalid_grid_card", "cells must be a list of lists")
        return cls(
            rows=rows,
            columns=columns,
            chars_per_cell=chars_per_cell,
            cells=tuple(tuple(row) for row in raw_cells),
        )


def _json_int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    # bool is an int subclass; a "true" dimension is corruption, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise GridVerificationError("invalid_grid_card", f"{name} must be an integer")
    return value


def _check_dimensions(rows: int, columns: int) -> None:
    if not (1 <= rows <= _MAX_DIMENSION and 1 <= columns <= _MAX_DIMENSION):
        raise GridVerificationError(
            "invalid_grid_size", f"rows and columns must be between 1 and {_MAX_DIMENSION}"
        )


def generate_grid_card(
    *,
    rows: int = 5,
    columns: int = 10,
    chars_per_cell: int = 1,
    alphabet: str = DEFAULT_ALPHABET,
) -> GridCard:
    """Return a new card filled uniformly at random from ``alphabet``."""
    _check_dimensions(rows, columns)
    if not 1 <= chars_per_cell <= _MAX_CHARS_PER_CELL:
        raise GridVerificationError(
            "invalid_grid_size", f"chars_per_cell must be between 1 and {_MAX_CHARS_PER_CELL}"
        )
    # Duplicates would bias the distribution; lower case or whitespace could
    # never survive response normalisation.
    if (
        len(alphabet) < 2
        or len(set(alphabet)) != len(alphabet)
        or not all(_is_answerable_symbol_string(ch) for ch in alphabet)
    ):
        raise GridVerificationError(
            "invalid_parameters",
            "alphabet needs >= 2 distinct upper-case, non-space characters",
        )
    cells = tuple(
        tuple(
            "".join(secrets.choice(alphabet) for _ in range(chars_per_cell)) for _ in range(columns)
        )
        for _ in range(rows)
    )
    return GridCard(rows=rows, columns=columns, chars_per_cell=chars_per_cell, cells=cells)


def generate_grid_challenge(*, rows: int, columns: int, num_cells: int = 3) -> tuple[GridCell, ...]:
    """Pick ``num_cells`` distinct random cells of a ``rows`` x ``columns`` grid."""
    _check_dimensions(rows, columns)
    if not 1 <= num_cells <= rows * columns:
        raise GridVerificationError(
            "invalid_parameters", "num_cells must be between 1 and rows * columns"
        )
    picks = secrets.SystemRandom().sample(range(rows * columns), num_cells)
    return tuple(GridCell(row=p // columns, column=p % columns) for p in picks)


def _expected_response(card: GridCard, challenge: Sequence[GridCell]) -> str | None:
    values: list[str] = []
    for cell in challenge:
        # Explicit bounds check: Python's negative indexing would otherwise
        # silently answer row -1 from the last row.
        if not (0 <= cell.row < card.rows and 0 <= cell.column < card.columns):
            return None
        values.append(card.cells[cell.row][cell.column])
    return "".join(values)


def verify_grid_response(
    *,
    cards: Sequence[GridCard],
    challenge: Sequence[GridCell],
    response: str,
) -> GridVerification:
    """Check ``response`` against every active card of the user.

    The response may be the concatenated cell values or whitespace-separated
    and in any case. Any card may answer (users often hold an old and a new
    card during rollover); the first matching card's index is returned.
    """
    submitted = _normalize_response(response)
    if not submitted or not challenge:
        raise GridVerificationError("invalid_response", "response is empty")
    matched: int | None = None
    # All cards are compared, without an early exit, so timing does not tell
    # which card (if any) was close.
    for index, card in enumerate(cards):
        expected = _expected_response(card, challenge)
        if expected is None:
            # The card's shape is not secret, so skipping it leaks nothing.
            continue
        if hmac.compare_digest(expected.encode(), submitted.encode()) and matched is None:
            matched = index
    if matched is None:
        raise GridVerificationError("invalid_response", "response does not match")
    return GridVerification(card_index=matched)
