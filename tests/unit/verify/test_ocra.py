"""OCRA (RFC 6287): every Appendix C test vector, suite parsing, challenges,
and verification (windows, replays, malformed answers)."""

from __future__ import annotations

import hashlib
import string

import pytest

from authcore.verify.ocra import (
    OCRAVerification,
    OCRAVerificationError,
    check_enrollable,
    compute,
    generate_ocra_challenge,
    generate_ocra_response,
    parse_suite,
    verify_ocra,
)

# RFC 6287 Appendix C: the keys are "1234567890" repeated, in ASCII.
SEED_20 = bytes.fromhex("3132333435363738393031323334353637383930")
SEED_32 = bytes.fromhex("3132333435363738393031323334353637383930313233343536373839303132")
SEED_64 = bytes.fromhex(
    "3132333435363738393031323334353637383930313233343536373839303132"
    "3334353637383930313233343536373839303132333435363738393031323334")
PIN_SHA1 = hashlib.sha1(b"1234").digest()  # the RFC's PIN hash
# 132d0b6 minutes: Mar 25 2008, 12:06 GMT.
T_1M = 0x132D0B6

# C.1 One-way challenge-response.
rfc6287_appendix_c_one_way_sha1_qn08 = [
    ("00000000", "237653"), ("11111111", "243178"), ("22222222", "653583"),
    ("33333333", "740991"), ("44444444", "608993"), ("55555555", "388898"),
    ("66666666", "816933"), ("77777777", "224598"), ("88888888", "750600"),
    ("99999999", "294470"),
]
# Counter 0..9, question 12345678, PIN 1234.
rfc6287_appendix_c_one_way_sha256_c_qn08_psha1 = [
    (0, "65347737"), (1, "86775851"), (2, "78192410"), (3, "71565254"), (4, "10104329"),
    (5, "65983500"), (6, "70069104"), (7, "91771096"), (8, "75011558"), (9, "08522129"),
]
rfc6287_appendix_c_one_way_sha256_qn08_psha1 = [
    ("00000000", "83238735"), ("11111111", "01501458"), ("22222222", "17957585"),
    ("33333333", "86776967"), ("44444444", "86807031"),
]
# (counter, question, response)
rfc6287_appendix_c_one_way_sha512_c_qn08 = [
    (0, "00000000", "07016083"), (1, "11111111", "63947962"), (2, "22222222", "70123924"),
    (3, "33333333", "25341727"), (4, "44444444", "33203315"), (5, "55555555", "34205738"),
    (6, "66666666", "44343969"), (7, "77777777", "51946085"), (8, "88888888", "20403879"),
    (9, "99999999", "31409299"),
]
rfc6287_appendix_c_one_way_sha512_qn08_t1m = [
    ("00000000", "95209754"), ("11111111", "55907591"), ("22222222", "22048402"),
    ("33333333", "24218844"), ("44444444", "36209546"),
]
# C.2 Mutual challenge-response (the question is both challenges run together).
rfc6287_appendix_c_mutual_sha256_qa08_server = [
    ("CLI22220SRV11110", "28247970"), ("CLI22221SRV11111", "01984843"),
    ("CLI22222SRV11112", "65387857"), ("CLI22223SRV11113", "03351211"),
    ("CLI22224SRV11114", "83412541"),
]
rfc6287_appendix_c_mutual_sha256_qa08_client = [
    ("SRV11110CLI22220", "15510767"), ("SRV11111CLI22221", "90175646"),
    ("SRV11112CLI22222", "33777207"), ("SRV11113CLI22223", "95285278"),
    ("SRV11114CLI22224", "28934924"),
]
rfc6287_appendix_c_mutual_sha512_qa08_server = [
    ("CLI22220SRV11110", "79496648"), ("CLI22221SRV11111", "76831980"),
    ("CLI22222SRV11112", "12250499"), ("CLI22223SRV11113", "90856481"),
    ("CLI22224SRV11114", "12761449"),
]
rfc6287_appendix_c_mutual_sha512_qa08_psha1_client = [
    ("SRV11110CLI22220", "18806276"), ("SRV11111CLI22221", "70020315"),
    ("SRV11112CLI22222", "01600026"), ("SRV11113CLI22223", "18951020"),
    ("SRV11114CLI22224", "32528969"),
]
# C.3 Plain signature.
rfc6287_appendix_c_signature_sha256_qa08 = [
    ("SIG10000", "53095496"), ("SIG11000", "04110475"), ("SIG12000", "31331128"),
    ("SIG13000", "76028668"), ("SIG14000", "46554205"),
]
rfc6287_appendix_c_signature_sha512_qa10_t1m = [
    ("SIG1000000", "77537423"), ("SIG1100000", "31970405"), ("SIG1200000", "10235557"),
    ("SIG1300000", "95213541"), ("SIG1400000", "65360607"),
]


# -- the vectors -----------------------------------------------------------------

@pytest.mark.parametrize(("question", "expected"), rfc6287_appendix_c_one_way_sha1_qn08)
def test_one_way_sha1_qn08(question: str, expected: str) -> None:
    suite = "OCRA-1:HOTP-SHA1-6:QN08"
    assert compute(secret=SEED_20, suite=suite, challenge=question) == expected
    assert verify_ocra(secret=SEED_20, suite=suite, challenge=question, response=expected) \
        == OCRAVerification(counter=None, next_counter=None, time_step=None)


@pytest.mark.parametrize(("counter", "expected"), rfc6287_appendix_c_one_way_sha256_c_qn08_psha1)
def test_one_way_sha256_counter_and_pin(counter: int, expected: str) -> None:
    suite = "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1"
    assert generate_ocra_response(secret=SEED_32, suite=suite, challenge="12345678",
                                  counter=counter, pin_hash=PIN_SHA1) == expected
    got = verify_ocra(secret=SEED_32, suite=suite, challenge="12345678", response=expected,
                      counter=counter, pin_hash=PIN_SHA1)
    assert got.counter == counter and got.next_counter == counter + 1


@pytest.mark.parametrize(("question", "expected"), rfc6287_appendix_c_one_way_sha256_qn08_psha1)
def test_one_way_sha256_pin(question: str, expected: str) -> None:
    assert compute(secret=SEED_32, suite="OCRA-1:HOTP-SHA256-8:QN08-PSHA1", challenge=question,
                   pin_hash=PIN_SHA1) == expected


@pytest.mark.parametrize(("counter", "question", "expected"),
                         rfc6287_appendix_c_one_way_sha512_c_qn08)
def test_one_way_sha512_counter(counter: int, question: str, expected: str) -> None:
    assert compute(secret=SEED_64, suite="OCRA-1:HOTP-SHA512-8:C-QN08", challenge=question,
                   counter=counter) == expected


@pytest.mark.parametrize(("question", "expected"), rfc6287_appendix_c_one_way_sha512_qn08_t1m)
def test_one_way_sha512_time(question: str, expected: str) -> None:
    suite = "OCRA-1:HOTP-SHA512-8:QN08-T1M"
    assert compute(secret=SEED_64, suite=suite, challenge=question, timestamp=T_1M) == expected
    now = T_1M * 60 + 30.0
    got = verify_ocra(secret=SEED_64, suite=suite, challenge=question, response=expected,
                      now=now)
    assert got.time_step == T_1M
    # A minute later it is still in the drift window, two minutes later not.
    assert verify_ocra(secret=SEED_64, suite=suite, challenge=question, response=expected,
                       now=now + 60).time_step == T_1M
    with pytest.raises(OCRAVerificationError) as exc:
        verify_ocra(secret=SEED_64, suite=suite, challenge=question, response=expected,
                    now=now + 120)
    assert exc.value.reason == "invalid_code"


@pytest.mark.parametrize(("key", "suite", "vectors", "pin"), [
    (SEED_32, "OCRA-1:HOTP-SHA256-8:QA08", rfc6287_appendix_c_mutual_sha256_qa08_server, None),
    (SEED_32, "OCRA-1:HOTP-SHA256-8:QA08", rfc6287_appendix_c_mutual_sha256_qa08_client, None),
    (SEED_64, "OCRA-1:HOTP-SHA512-8:QA08", rfc6287_appendix_c_mutual_sha512_qa08_server, None),
    (SEED_64, "OCRA-1:HOTP-SHA512-8:QA08-PSHA1",
     rfc6287_appendix_c_mutual_sha512_qa08_psha1_client, PIN_SHA1),
], ids=["sha256-server", "sha256-client", "sha512-server", "sha512-psha1-client"])
def test_mutual(key: bytes, suite: str, vectors: list[tuple[str, str]], pin: bytes | None
                ) -> None:
    for question, expected in vectors:
        assert compute(secret=key, suite=suite, challenge=question, pin_hash=pin,
                       mutual=True) == expected
    # One-way, the doubled question is too long for QA08.
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=key, suite=suite, challenge=vectors[0][0], pin_hash=pin)
    assert exc.value.reason == "invalid_challenge"


@pytest.mark.parametrize(("question", "expected"), rfc6287_appendix_c_signature_sha256_qa08)
def test_signature_sha256(question: str, expected: str) -> None:
    assert compute(secret=SEED_32, suite="OCRA-1:HOTP-SHA256-8:QA08",
                   challenge=question) == expected


@pytest.mark.parametrize(("question", "expected"), rfc6287_appendix_c_signature_sha512_qa10_t1m)
def test_signature_sha512_time(question: str, expected: str) -> None:
    assert compute(secret=SEED_64, suite="OCRA-1:HOTP-SHA512-8:QA10-T1M", challenge=question,
                   timestamp=T_1M) == expected


def test_all_appendix_c_vectors_are_here() -> None:
    # 10 + 10 + 5 + 10 + 5 (C.1), 4 x 5 (C.2), 5 + 5 (C.3).
    tables = [v for k, v in globals().items() if k.startswith("rfc6287_appendix_c_")]
    assert len(tables) == 11
    assert sum(len(t) for t in tables) == 70


# -- suites -----------------------------------------------------------------------

def test_parse_suite() -> None:
    s = parse_suite("OCRA-1:HOTP-SHA512-8:C-QH40-PSHA256-S128-T30S")
    assert (s.hash, s.digits, s.counter, s.question_format, s.question_length) == (
        "SHA512", 8, True, "H", 40)
    assert (s.pin_hash, s.session_length, s.time_step) == ("SHA256", 128, 30)
    assert parse_suite("OCRA-1:HOTP-SHA1-6:QN08-T2H").time_step == 7200
    assert parse_suite("OCRA-1:HOTP-SHA1-10:QA64").digits == 10
    assert parse_suite("OCRA-1:HOTP-SHA1-0:QN08").digits == 0


@pytest.mark.parametrize("suite", [
    "", "OCRA-1", "OCRA-2:HOTP-SHA1-6:QN08", "OCRA-1:HOTP-MD5-6:QN08",
    "OCRA-1:HOTP-SHA1-3:QN08", "OCRA-1:HOTP-SHA1-11:QN08", "OCRA-1:TOTP-SHA1-6:QN08",
    "OCRA-1:HOTP-SHA1-6:QN03", "OCRA-1:HOTP-SHA1-6:QN65", "OCRA-1:HOTP-SHA1-6:QX08",
    "OCRA-1:HOTP-SHA1-6:Q", "OCRA-1:HOTP-SHA1-6:C", "OCRA-1:HOTP-SHA1-6:QN08-C",
    "OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", "OCRA-1:HOTP-SHA1-6:QN08-T60S",
    "OCRA-1:HOTP-SHA1-6:QN08-T49H", "OCRA-1:HOTP-SHA1-6:QN08-T0M", "OCRA-1:HOTP-SHA1-6:QN08-T",
    "OCRA-1:HOTP-SHA1-6:QN08-T1H30M", "ocra-1:hotp-sha1-6:qn08", " OCRA-1:HOTP-SHA1-6:QN08",
    "OCRA-1:HOTP-SHA1-6:QN08-S000", "OCRA-1:HOTP-SHA1-6:QN08-PMD5",
    "OCRA-1:HOTP-SHA1-6:QN08:", "OCRA-1:HOTP-SHA1-6:QN08-" + "T1M" * 20,
])
def test_bad_suites(suite: str) -> None:
    with pytest.raises(OCRAVerificationError) as exc:
        parse_suite(suite)
    assert exc.value.reason == "invalid_suite"


@pytest.mark.parametrize("suite", [
    "OCRA-1:HOTP-SHA1-0:QN08", "OCRA-1:HOTP-SHA256-8:QN08-PSHA1",
    "OCRA-1:HOTP-SHA1-6:QA08-S064",
])
def test_enrolment_refuses_what_is_not_served(suite: str) -> None:
    parse_suite(suite)
    with pytest.raises(OCRAVerificationError) as exc:
        check_enrollable(suite)
    assert exc.value.reason == "unsupported_suite"


def test_enrolment_takes_counter_and_time() -> None:
    assert check_enrollable("OCRA-1:HOTP-SHA1-6:C-QN08-T30S").counter


# -- challenges -------------------------------------------------------------------

@pytest.mark.parametrize(("suite", "alphabet", "length"), [
    ("OCRA-1:HOTP-SHA1-6:QN08", string.digits, 8),
    ("OCRA-1:HOTP-SHA1-6:QA10", string.digits + string.ascii_uppercase, 10),
    ("OCRA-1:HOTP-SHA1-6:QH64", "0123456789ABCDEF", 64),
])
def test_challenges_fit_the_suite(suite: str, alphabet: str, length: int) -> None:
    seen = set()
    for _ in range(50):
        ch = generate_ocra_challenge(suite=suite)
        assert len(ch) == length and set(ch) <= set(alphabet)
        compute(secret=SEED_20, suite=suite, challenge=ch)
        seen.add(ch)
    assert len(seen) == 50


def test_one_challenge_for_several_suites() -> None:
    suites = [parse_suite("OCRA-1:HOTP-SHA1-6:QA10"), parse_suite("OCRA-1:HOTP-SHA1-6:QN06"),
              parse_suite("OCRA-1:HOTP-SHA1-6:QH08")]
    ch = generate_ocra_challenge(suite=suites)
    assert len(ch) == 6 and ch.isdigit()
    for s in suites:
        compute(secret=SEED_20, suite=s, challenge=ch)
    both = generate_ocra_challenge(suite=[suites[0], suites[2]])
    assert len(both) == 8 and set(both) <= set("0123456789ABCDEF")


@pytest.mark.parametrize(("suite", "challenge"), [
    ("OCRA-1:HOTP-SHA1-6:QN08", "1234567a"), ("OCRA-1:HOTP-SHA1-6:QN08", "123456789"),
    ("OCRA-1:HOTP-SHA1-6:QN08", ""), ("OCRA-1:HOTP-SHA1-6:QH08", "GG"),
    ("OCRA-1:HOTP-SHA1-6:QA08", "ab-d"),
    ("OCRA-1:HOTP-SHA1-6:QN08", "\u0661\u0662\u0663\u0664"),  # Arabic-Indic digits
])
def test_bad_challenges(suite: str, challenge: str) -> None:
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=SEED_20, suite=suite, challenge=challenge)
    assert exc.value.reason == "invalid_challenge"


def test_numeric_questions_are_numbers() -> None:
    # QN hashes the number: leading zeros don't change the answer.
    suite = "OCRA-1:HOTP-SHA1-6:QN08"
    assert compute(secret=SEED_20, suite=suite, challenge="00001234") == compute(
        secret=SEED_20, suite=suite, challenge="1234")


# -- verification -----------------------------------------------------------------

def test_wrong_and_malformed_answers() -> None:
    suite = "OCRA-1:HOTP-SHA1-6:QN08"
    for bad in ("237654", "23765", "2376533", "23765a", "", "\uff12\uff13\uff17\uff16\uff15\uff13"):
        with pytest.raises(OCRAVerificationError) as exc:
            verify_ocra(secret=SEED_20, suite=suite, challenge="00000000", response=bad)
        assert exc.value.reason == "invalid_code"
    # Another challenge's answer, and another key's.
    with pytest.raises(OCRAVerificationError):
        verify_ocra(secret=SEED_20, suite=suite, challenge="11111111", response="237653")
    with pytest.raises(OCRAVerificationError):
        verify_ocra(secret=SEED_32, suite=suite, challenge="00000000", response="237653")
    assert verify_ocra(secret=SEED_20, suite=suite, challenge="00000000",
                       response=" 237653 ").counter is None


def test_counter_look_ahead() -> None:
    suite = "OCRA-1:HOTP-SHA512-8:C-QN08"
    # The token was at 7 while the server expects 4: found within the window.
    got = verify_ocra(secret=SEED_64, suite=suite, challenge="77777777", response="51946085",
                      counter=4, look_ahead=3)
    assert (got.counter, got.next_counter) == (7, 8)
    with pytest.raises(OCRAVerificationError) as exc:
        verify_ocra(secret=SEED_64, suite=suite, challenge="77777777", response="51946085",
                    counter=4, look_ahead=2)
    assert exc.value.reason == "invalid_code"
    # A counter already spent (the server is past it) is refused.
    with pytest.raises(OCRAVerificationError):
        verify_ocra(secret=SEED_64, suite=suite, challenge="77777777", response="51946085",
                    counter=8, look_ahead=10)
    with pytest.raises(OCRAVerificationError) as exc:
        verify_ocra(secret=SEED_64, suite=suite, challenge="77777777", response="51946085")
    assert exc.value.reason == "invalid_parameters"


def test_time_step_replay() -> None:
    suite = "OCRA-1:HOTP-SHA512-8:QN08-T1M"
    now = T_1M * 60 + 1.0
    with pytest.raises(OCRAVerificationError) as exc:
        verify_ocra(secret=SEED_64, suite=suite, challenge="00000000", response="95209754",
                    now=now, last_used_step=T_1M)
    assert exc.value.reason == "replayed_code"
    assert verify_ocra(secret=SEED_64, suite=suite, challenge="00000000", response="95209754",
                       now=now, last_used_step=T_1M - 1).time_step == T_1M
    with pytest.raises(OCRAVerificationError) as exc:
        verify_ocra(secret=SEED_64, suite=suite, challenge="00000000", response="95209754")
    assert exc.value.reason == "invalid_parameters"


def test_parameters_are_checked() -> None:
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=b"short", suite="OCRA-1:HOTP-SHA1-6:QN08", challenge="1")
    assert exc.value.reason == "invalid_parameters"
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=SEED_32, suite="OCRA-1:HOTP-SHA256-8:QN08-PSHA1", challenge="1",
                pin_hash=b"x" * 19)
    assert exc.value.reason == "invalid_parameters"
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=SEED_32, suite="OCRA-1:HOTP-SHA1-6:QN08-S004", challenge="1",
                session=b"abc")
    assert exc.value.reason == "invalid_parameters"
    assert len(compute(secret=SEED_32, suite="OCRA-1:HOTP-SHA1-6:QN08-S004", challenge="1",
                       session=b"abcd")) == 6
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=SEED_20, suite="OCRA-1:HOTP-SHA1-0:QN08", challenge="1")
    assert exc.value.reason == "unsupported_suite"
    with pytest.raises(OCRAVerificationError) as exc:
        compute(secret=SEED_20, suite="OCRA-1:HOTP-SHA1-6:C-QN08", challenge="1",
                counter=2**64)
    assert exc.value.reason == "invalid_parameters"
