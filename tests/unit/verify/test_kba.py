from __future__ import annotations

import pytest

from authcore.verify import kba
from authcore.verify.kba import (
    KBAVerification,
    KBAVerificationError,
    choose_questions,
    hash_answer,
    normalize_answer,
    verify_kba_answers,
)
from authcore.verify.password import Argon2Params
from authcore.verify.password import verify_password as real_verify

FAST = Argon2Params(time_cost=1, memory_cost_kib=1024)


@pytest.fixture(scope="module")
def expected() -> dict[str, str]:
    return {
        "first_pet": hash_answer(answer="Rex", params=FAST),
        "favourite_band": hash_answer(answer="The Beatles", params=FAST),
        "birth_city": hash_answer(answer="São Paulo", params=FAST),
    }


GOOD = {"first_pet": "rex", "favourite_band": "  The  Beatles ", "birth_city": "SÃO PAULO"}


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("  The  Beatles ", "the beatles"),
        ("THE\tBEATLES\n", "the beatles"),
        ("Straße", "strasse"),
        ("\uff21\uff22\uff23", "abc"),  # full-width letters
        ("\ufb01sh", "fish"),  # ligature
        ("e\u0301", "é"),  # combining accent composes
        ("", ""),
        (" \t ", ""),
    ],
)
def test_normalize_answer(raw: str, normalized: str) -> None:
    assert normalize_answer(raw) == normalized


def test_normalize_is_idempotent() -> None:
    for raw in ["  The  Beatles ", "Straße", "ǰ", "ΣΑΣ", "İstanbul"]:
        once = normalize_answer(raw)
        assert normalize_answer(once) == once


def test_hash_answer_is_argon2id_of_normalized_form() -> None:
    encoded = hash_answer(answer="  The  Beatles ", params=FAST)
    assert encoded.startswith("$argon2id$")
    assert "the beatles" not in encoded.lower()


@pytest.mark.parametrize("answer", ["", "   ", "\n\t"])
def test_hash_answer_rejects_empty(answer: str) -> None:
    with pytest.raises(KBAVerificationError) as excinfo:
        hash_answer(answer=answer, params=FAST)
    assert excinfo.value.reason == "invalid_answer"


def test_all_correct(expected: dict[str, str]) -> None:
    result = verify_kba_answers(expected=expected, answers=GOOD)
    assert result == KBAVerification(verified_ids=("first_pet", "favourite_band", "birth_city"))


def test_normalised_variants_match(expected: dict[str, str]) -> None:
    answers = {"first_pet": "REX", "favourite_band": "the beatles", "birth_city": "são paulo"}
    assert verify_kba_answers(expected=expected, answers=answers).verified_ids


@pytest.mark.parametrize("wrong_id", ["first_pet", "favourite_band", "birth_city"])
def test_one_wrong_answer_fails(expected: dict[str, str], wrong_id: str) -> None:
    answers = {**GOOD, wrong_id: "wrong"}
    with pytest.raises(KBAVerificationError) as excinfo:
        verify_kba_answers(expected=expected, answers=answers)
    assert excinfo.value.reason == "invalid_answer"


def test_empty_answer_fails(expected: dict[str, str]) -> None:
    with pytest.raises(KBAVerificationError) as excinfo:
        verify_kba_answers(expected=expected, answers={**GOOD, "first_pet": "  "})
    assert excinfo.value.reason == "invalid_answer"


def test_missing_answer_fails(expected: dict[str, str]) -> None:
    answers = {k: v for k, v in GOOD.items() if k != "birth_city"}
    with pytest.raises(KBAVerificationError) as excinfo:
        verify_kba_answers(expected=expected, answers=answers)
    assert excinfo.value.reason == "invalid_answer"


def test_extra_answer_fails(expected: dict[str, str]) -> None:
    with pytest.raises(KBAVerificationError) as excinfo:
        verify_kba_answers(expected=expected, answers={**GOOD, "mother_maiden_name": "x"})
    assert excinfo.value.reason == "invalid_answer"


def test_no_questions_never_verifies() -> None:
    with pytest.raises(KBAVerificationError) as excinfo:
        verify_kba_answers(expected={}, answers={})
    assert excinfo.value.reason == "invalid_answer"


def test_malformed_stored_hash_fails() -> None:
    with pytest.raises(KBAVerificationError) as excinfo:
        verify_kba_answers(expected={"q": "garbage"}, answers={"q": "anything"})
    assert excinfo.value.reason == "invalid_answer"


def test_all_answers_checked_after_first_failure(
    expected: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting_verify(*, password: str, encoded_hash: str) -> object:
        calls.append(password)
        return real_verify(password=password, encoded_hash=encoded_hash)

    monkeypatch.setattr(kba, "verify_password", counting_verify)
    answers = {**GOOD, "first_pet": "wrong"}
    with pytest.raises(KBAVerificationError):
        verify_kba_answers(expected=expected, answers=answers)
    assert calls == ["wrong", "the beatles", "são paulo"]


def test_choose_questions_distinct_subset() -> None:
    ids = [f"q{i}" for i in range(10)]
    for _ in range(20):
        chosen = choose_questions(question_ids=ids, count=3)
        assert len(chosen) == 3
        assert len(set(chosen)) == 3
        assert set(chosen) <= set(ids)


def test_choose_questions_is_random() -> None:
    ids = [f"q{i}" for i in range(20)]
    picks = {tuple(choose_questions(question_ids=ids, count=5)) for _ in range(10)}
    assert len(picks) > 1


def test_choose_questions_caps_at_available() -> None:
    assert sorted(choose_questions(question_ids=["a", "b"], count=5)) == ["a", "b"]
    assert choose_questions(question_ids=["a", "b"], count=0) == []
    assert choose_questions(question_ids=[], count=3) == []


def test_choose_questions_ignores_duplicate_ids() -> None:
    assert sorted(choose_questions(question_ids=["a", "a", "b"], count=3)) == ["a", "b"]


def test_choose_questions_rejects_negative_count() -> None:
    with pytest.raises(KBAVerificationError) as excinfo:
        choose_questions(question_ids=["a"], count=-1)
    assert excinfo.value.reason == "invalid_parameters"
