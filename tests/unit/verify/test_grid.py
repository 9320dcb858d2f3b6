from __future__ import annotations

import json

import pytest

from authcore.verify.grid import (
    DEFAULT_ALPHABET,
    GridCard,
    GridCell,
    GridVerification,
    GridVerificationError,
    generate_grid_card,
    generate_grid_challenge,
    verify_grid_response,
)

# 3 x 4 card with one character per cell:
#        c0   c1   c2   c3
#   r0   A    4    F    7
#   r1   Q    2    K    9
#   r2   X    0    M    B
CARD = GridCard(
    rows=3,
    columns=4,
    chars_per_cell=1,
    cells=(("A", "4", "F", "7"), ("Q", "2", "K", "9"), ("X", "0", "M", "B")),
)
OTHER_CARD = GridCard(
    rows=3,
    columns=4,
    chars_per_cell=1,
    cells=(("1", "1", "1", "1"), ("2", "2", "2", "2"), ("3", "3", "3", "3")),
)
CHALLENGE = (GridCell(row=0, column=0), GridCell(row=1, column=2), GridCell(row=2, column=3))
ANSWER = "AKB"


def _verify(response: str, cards: tuple[GridCard, ...] = (CARD,)) -> int:
    return verify_grid_response(cards=cards, challenge=CHALLENGE, response=response).card_index


def test_default_alphabet_excludes_confusables() -> None:
    assert len(DEFAULT_ALPHABET) == len(set(DEFAULT_ALPHABET)) == 32
    assert not set("IOSZ") & set(DEFAULT_ALPHABET)


@pytest.mark.parametrize("response", ["AKB", "A K B", "  A\tK\nB  ", "akb", "a k b", "aKb"])
def test_accepts_concatenated_spaced_and_lower_case(response: str) -> None:
    assert _verify(response) == 0


@pytest.mark.parametrize("response", ["AKC", "KAB", "AK", "AKBB", "A4F", "AKB7"])
def test_wrong_response_rejected(response: str) -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        _verify(response)
    assert excinfo.value.reason == "invalid_response"


@pytest.mark.parametrize("response", ["", "   ", "\n"])
def test_empty_response_rejected(response: str) -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        _verify(response)
    assert excinfo.value.reason == "invalid_response"


def test_empty_challenge_never_verifies() -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        verify_grid_response(cards=[CARD], challenge=[], response="A")
    assert excinfo.value.reason == "invalid_response"


def test_no_cards_rejected() -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        _verify(ANSWER, cards=())
    assert excinfo.value.reason == "invalid_response"


def test_multiple_cards_report_matching_index() -> None:
    assert _verify(ANSWER, cards=(OTHER_CARD, CARD)) == 1
    assert _verify("123", cards=(OTHER_CARD, CARD)) == 0
    result = verify_grid_response(cards=[OTHER_CARD, CARD], challenge=CHALLENGE, response="a k b")
    assert result == GridVerification(card_index=1)


def test_card_too_small_for_challenge_cannot_answer() -> None:
    small = GridCard(rows=1, columns=1, chars_per_cell=1, cells=(("A",),))
    assert _verify(ANSWER, cards=(small, CARD)) == 1
    with pytest.raises(GridVerificationError) as excinfo:
        _verify("A", cards=(small,))
    assert excinfo.value.reason == "invalid_response"


def test_negative_cell_does_not_wrap_around() -> None:
    # Python would read cells[-1] as the last row; the verifier must not.
    challenge = [GridCell(row=-1, column=0)]
    with pytest.raises(GridVerificationError) as excinfo:
        verify_grid_response(cards=[CARD], challenge=challenge, response="X")
    assert excinfo.value.reason == "invalid_response"


def test_multi_char_cells() -> None:
    card = GridCard(rows=2, columns=2, chars_per_cell=2, cells=(("A1", "B2"), ("C3", "D4")))
    challenge = [GridCell(row=1, column=1), GridCell(row=0, column=1)]
    for response in ("D4B2", "d4 b2", "D4 B2"):
        assert (
            verify_grid_response(cards=[card], challenge=challenge, response=response).card_index
            == 0
        )
    with pytest.raises(GridVerificationError):
        verify_grid_response(cards=[card], challenge=challenge, response="B2D4")


def test_generate_card_defaults() -> None:
    card = generate_grid_card()
    assert (card.rows, card.columns, card.chars_per_cell) == (5, 10, 1)
    assert len(card.cells) == 5
    assert all(len(row) == 10 for row in card.cells)
    assert all(len(v) == 1 and v in DEFAULT_ALPHABET for row in card.cells for v in row)


def test_generate_card_is_random() -> None:
    assert generate_grid_card(rows=5, columns=10, chars_per_cell=2) != generate_grid_card(
        rows=5, columns=10, chars_per_cell=2
    )


def test_generate_card_custom_alphabet() -> None:
    card = generate_grid_card(rows=26, columns=26, chars_per_cell=3, alphabet="AB")
    assert all(len(v) == 3 and set(v) <= {"A", "B"} for row in card.cells for v in row)


@pytest.mark.parametrize(
    ("rows", "columns", "chars_per_cell"),
    [(0, 10, 1), (27, 10, 1), (5, 0, 1), (5, 27, 1), (5, 10, 0), (5, 10, 4)],
)
def test_generate_card_size_validation(rows: int, columns: int, chars_per_cell: int) -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        generate_grid_card(rows=rows, columns=columns, chars_per_cell=chars_per_cell)
    assert excinfo.value.reason == "invalid_grid_size"


@pytest.mark.parametrize("alphabet", ["", "A", "AA", "ab", "A B"])
def test_generate_card_alphabet_validation(alphabet: str) -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        generate_grid_card(alphabet=alphabet)
    assert excinfo.value.reason == "invalid_parameters"


def test_generated_card_verifies() -> None:
    card = generate_grid_card(chars_per_cell=2)
    challenge = generate_grid_challenge(rows=card.rows, columns=card.columns)
    response = " ".join(card.cells[c.row][c.column].lower() for c in challenge)
    assert (
        verify_grid_response(cards=[card], challenge=challenge, response=response).card_index == 0
    )


def test_json_round_trip() -> None:
    card = generate_grid_card(rows=7, columns=9, chars_per_cell=3)
    restored = GridCard.from_json(card.to_json())
    assert restored == card
    assert isinstance(restored.cells, tuple)
    assert all(isinstance(row, tuple) for row in restored.cells)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        "[]",
        json.dumps({"rows": 1, "columns": 1, "chars_per_cell": 1, "cells": [["A"]]}),
        json.dumps({"version": 1, "rows": 2, "columns": 1, "chars_per_cell": 1, "cells": [["A"]]}),
        json.dumps({"version": 1, "rows": 1, "columns": 1, "chars_per_cell": 2, "cells": [["A"]]}),
        json.dumps({"version": 1, "rows": 1, "columns": 1, "chars_per_cell": 1, "cells": [["a"]]}),
        json.dumps({"version": 1, "rows": 1, "columns": 1, "chars_per_cell": 1, "cells": [[1]]}),
        json.dumps(
            {"version": 1, "rows": True, "columns": 1, "chars_per_cell": 1, "cells": [["A"]]}
        ),
        json.dumps({"version": 1, "rows": 1, "columns": 1, "chars_per_cell": 1, "cells": "A"}),
        json.dumps(
            {"version": 1, "rows": 27, "columns": 1, "chars_per_cell": 1, "cells": [["A"]] * 27}
        ),
    ],
)
def test_from_json_rejects_malformed(payload: str) -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        GridCard.from_json(payload)
    assert excinfo.value.reason == "invalid_grid_card"


def test_challenge_is_distinct_and_in_range() -> None:
    for _ in range(20):
        challenge = generate_grid_challenge(rows=5, columns=10, num_cells=3)
        assert len(challenge) == 3
        assert len(set(challenge)) == 3
        assert all(0 <= c.row < 5 and 0 <= c.column < 10 for c in challenge)


def test_challenge_can_cover_whole_grid() -> None:
    challenge = generate_grid_challenge(rows=2, columns=3, num_cells=6)
    assert set(challenge) == {GridCell(row=r, column=c) for r in range(2) for c in range(3)}


@pytest.mark.parametrize("num_cells", [0, 7])
def test_challenge_size_validation(num_cells: int) -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        generate_grid_challenge(rows=2, columns=3, num_cells=num_cells)
    assert excinfo.value.reason == "invalid_parameters"


def test_challenge_grid_size_validation() -> None:
    with pytest.raises(GridVerificationError) as excinfo:
        generate_grid_challenge(rows=27, columns=3)
    assert excinfo.value.reason == "invalid_grid_size"


def test_first_matching_card_wins() -> None:
    assert _verify(ANSWER, cards=(OTHER_CARD, CARD, CARD)) == 1
