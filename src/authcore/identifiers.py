"""Usernames and email addresses: which names may be stored, and the key that
every lookup matches them by.

Stored form (`enforce_username`): the PRECIS UsernameCasePreserved profile of
RFC 8265 section 3.4, as `precis-i18n` implements it: fullwidth and halfwidth
characters are mapped to their ordinary forms, the result is NFC, and
controls, format characters (zero-width space U+200B, the bidi overrides such
as U+202E), spaces, symbols, other compatibility characters and strings that
break the bidi rule of RFC 5893 are refused. On top of that, a name that mixes
scripts with a character confusable with another script's (a Cyrillic o, U+043E,
in a Latin name) is refused, from the Unicode TR39 data `confusable-homoglyphs`
ships. A name in one script ("Ελένη", "Иван", "josé") passes; a name that is
confusable as a whole ("admin" spelt entirely in Cyrillic letters that look
Latin) is not detected: TR39's whole-script test would need tables we don't
have.

Matching key (`username_key`, `email_key`): NFKC, Unicode case folding, NFKC
again (folding can un-normalise, e.g. U+01F0). That is UsernameCaseMapped's
comparison with full case folding ("Straße" matches "STRASSE"). Keys are
stored (`users.user_key`, `users.email_key`) because SQLite's lower() only
knows ASCII; lookups compute the key of the value asked for once, in Python,
and never raise, so a name that could not be created simply matches nothing.
An email address is folded whole, local part included: RFC 5321 lets a
server treat the local part as case-sensitive, but no mailbox provider in use
does, and two users differing only in the case of their address are the
squatting this exists to stop.
"""

from __future__ import annotations

import unicodedata

from precis_i18n import get_profile

MAX_USERNAME = 255

_PROFILE = get_profile("UsernameCasePreserved")

# precis-i18n's reasons (after "DISALLOWED/") -> our stable slug and a sentence.
_INVISIBLE = ("username_invisible_character",
              "must not contain invisible or formatting characters "
              "(zero-width, joiner, bidi override or other format characters)")
_PROBLEMS = {
    "empty": ("username_empty", "is required"),
    "spaces": ("username_space", "must not contain spaces"),
    "controls": ("username_control_character", "must not contain control characters"),
    "precis_ignorable_properties": _INVISIBLE,
    "join_control": _INVISIBLE,
    "zero_width_joiner": _INVISIBLE,
    "zero_width_nonjoiner": _INVISIBLE,
    "bidi_rule": ("username_bidi", "mixes right-to-left and left-to-right text in a way "
                                   "that can display misleadingly (RFC 5893 bidi rule)"),
    "has_compat": ("username_compatibility_character",
                   "must not contain compatibility characters (such as ligatures, "
                   "no-break spaces or Roman numerals)"),
    "symbols": ("username_symbol", "must not contain symbols or emoji"),
    "punctuation": ("username_punctuation", "must not contain punctuation other than ASCII's"),
}
_OTHER = ("username_disallowed_character", "contains a character not allowed in a username")


class IdentifierError(ValueError):
    """A username the profile refuses. `reason` is a stable slug, `problem`
    a sentence about the field that can go to the client (it names code
    points, never echoes the whole value)."""

    def __init__(self, reason: str, problem: str) -> None:
        super().__init__(problem)
        self.reason = reason
        self.problem = problem


def enforce_username(raw: str) -> str:
    """The form of `raw` to store and show (the JWT `sub`), or IdentifierError."""
    try:
        name: str = _PROFILE.enforce(raw)
    except UnicodeEncodeError as exc:
        kind = str(exc.reason).removeprefix("DISALLOWED/")
        reason, problem = _PROBLEMS.get(kind, _OTHER)
        # The code point, not the value: the client sees what to fix, and a
        # log of the error never carries an invisible character.
        if kind != "empty" and 0 <= exc.start < len(raw):
            problem += f" (U+{ord(raw[exc.start]):04X} at position {exc.start + 1})"
        raise IdentifierError(reason, problem) from None
    if len(name) > MAX_USERNAME:
        raise IdentifierError("username_too_long", f"is at most {MAX_USERNAME} characters")
    if not name.isascii() and _mixed_script_confusable(name):
        raise IdentifierError(
            "username_mixed_script",
            "mixes scripts with characters that look like another script's "
            "(e.g. a Cyrillic letter in a Latin name)")
    return name


def _mixed_script_confusable(name: str) -> bool:
    # Imported on the first non-ASCII name: its TR39 tables cost every
    # worker ~17 MB, and an ASCII name is one script (Latin, and Common)
    # by construction, so it can never be a mixed-script look-alike.
    from confusable_homoglyphs import confusables

    return bool(confusables.is_dangerous(name))


def _fold(text: str) -> str:
    return unicodedata.normalize(
        "NFKC", unicodedata.normalize("NFKC", text).casefold())


def username_key(raw: str) -> str:
    """What usernames are unique by and matched on (users.user_key)."""
    return _fold(raw)


def email_key(raw: str | None) -> str | None:
    """What email addresses are matched on (users.email_key)."""
    return None if raw is None else _fold(raw)
