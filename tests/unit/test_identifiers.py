"""Usernames (PRECIS UsernameCasePreserved + mixed-script confusables) and the
keys usernames and emails are matched by (issue 15, item 4)."""

from __future__ import annotations

import pytest

from authcore.identifiers import (
    IdentifierError,
    email_key,
    enforce_username,
    username_key,
)

# The look-alikes of "jdoe@corp.example" / "admin".
REFUSED = {
    "zero-width space": ("jd\u200boe@corp.example", "username_invisible_character"),
    "zero-width joiner": ("jd\u200doe", "username_invisible_character"),
    "Cyrillic o in a Latin name": ("jd\u043ee@corp.example", "username_mixed_script"),
    "Cyrillic a in a Latin name": ("\u0430dmin", "username_mixed_script"),
    "right-to-left override": ("admin\u202egpj.exe", "username_invisible_character"),
    "left-to-right mark": ("admin\u200e", "username_invisible_character"),
    "Hebrew after Latin (bidi rule)": ("admin\u05d0", "username_bidi"),
    "control character": ("jdoe\x07", "username_control_character"),
    "space": ("j doe", "username_space"),
    "no-break space": ("j\u00a0doe", "username_compatibility_character"),
    "ligature": ("\ufb01nance", "username_compatibility_character"),
    "emoji": ("jdoe\U0001f600", "username_symbol"),
    "empty": ("", "username_empty"),
    "too long": ("a" * 256, "username_too_long"),
}

_CYRILLIC_ADDRESS = "\u0438\u0432\u0430\u043d@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444"

ACCEPTED = {
    "ascii": ("jdoe@corp.example", "jdoe@corp.example"),
    "fullwidth at sign is width-mapped": ("jdoe\uff20corp.example", "jdoe@corp.example"),
    "fullwidth letters are width-mapped": ("\uff2a\uff24\uff2f\uff25", "JDOE"),
    "Spanish": ("jos\u00e9", "jos\u00e9"),
    "decomposed accent becomes NFC": ("jose\u0301", "jos\u00e9"),
    "German": ("M\u00fcller", "M\u00fcller"),
    "German with umlauts at a Latin domain": ("J\u00f6e.M\u00fcller@Example.com",
                                              "J\u00f6e.M\u00fcller@Example.com"),
    "Greek only": ("\u0395\u03bb\u03ad\u03bd\u03b7", "\u0395\u03bb\u03ad\u03bd\u03b7"),
    "Cyrillic only": ("\u0418\u0432\u0430\u043d", "\u0418\u0432\u0430\u043d"),
    "Cyrillic address": (_CYRILLIC_ADDRESS, _CYRILLIC_ADDRESS),
    "Hebrew only": ("\u05d0\u05d1\u05d2", "\u05d0\u05d1\u05d2"),
    "ASCII punctuation": ("o'brien_1-2.3+tag@ex.com", "o'brien_1-2.3+tag@ex.com"),
    "255 characters": ("a" * 255, "a" * 255),
}


@pytest.mark.parametrize(("raw", "reason"), REFUSED.values(), ids=REFUSED.keys())
def test_look_alikes_and_disallowed_characters_are_refused(raw: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        enforce_username(raw)
    assert caught.value.reason == reason
    assert caught.value.problem
    # The message names the code point; it never carries the invisible one.
    for invisible in ("\u200b", "\u200d", "\u202e", "\u200e"):
        assert invisible not in caught.value.problem


def test_the_refusal_names_the_code_point() -> None:
    with pytest.raises(IdentifierError) as caught:
        enforce_username("jd\u200boe")
    assert "U+200B at position 3" in caught.value.problem


@pytest.mark.parametrize(("raw", "stored"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_legitimate_names_pass_in_their_stored_form(raw: str, stored: str) -> None:
    assert enforce_username(raw) == stored


@pytest.mark.parametrize(("a", "b"), [
    ("J\u00f6e.M\u00fcller@Example.com", "J\u00d6E.M\u00dcLLER@example.com"),
    ("jose\u0301", "JOS\u00c9"),                          # NFC vs decomposed, and case
    ("jdoe\uff20corp.example", "JDOE@CORP.EXAMPLE"),      # width
    ("Stra\u00dfe", "STRASSE"),                           # full case folding
    ("\u03a3\u0391\u03a3", "\u03c3\u03b1\u03c2"),         # final sigma
    ("\u0418\u0412\u0410\u041d", "\u0438\u0432\u0430\u043d"),
])
def test_keys_match_without_regard_to_case_width_and_normalisation(a: str, b: str) -> None:
    assert username_key(a) == username_key(b)
    assert email_key(a) == email_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("jdoe@corp.example", "jd\u043ee@corp.example"),      # Cyrillic o (U+043E) is another letter
    ("admin", "ad\u200bmin"),                             # an invisible one still counts
    ("jdoe", "jdoe "),
])
def test_keys_keep_different_names_apart(a: str, b: str) -> None:
    assert username_key(a) != username_key(b)


def test_keys_never_raise() -> None:
    # A lookup of a name that could not be created just matches nothing.
    for raw, _ in REFUSED.values():
        assert isinstance(username_key(raw), str)
    assert email_key(None) is None


def test_ascii_names_never_load_the_confusables_tables() -> None:
    # Issue 14's RSS budget: the TR39 tables cost every worker ~17 MB, so
    # they are loaded on the first non-ASCII name only.
    import subprocess
    import sys

    probe = ("import sys; from authcore.identifiers import enforce_username; "
             "enforce_username('jdoe@corp.example'); "
             "print('confusable_homoglyphs' in sys.modules); "
             "enforce_username('jos\\u00e9'); "
             "print('confusable_homoglyphs' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]
