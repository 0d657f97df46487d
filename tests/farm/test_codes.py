"""ISRC and UPC/EAN/GTIN validation against independently computed codes and many malformed ones."""

import doctest

import numpy as np
import pytest

import farm.codes
from farm.codes import gs1_check_digit, isrc_problem, normalize_isrc, normalize_upc, upc_problem


def _ean13_check_from_left(first12: str) -> int:
    # Independent oracle, written the way REFERENCE.md states it: weights 1, 3, 1, 3 ... from the left
    # over the first 12 digits of an EAN-13.
    total = sum(int(d) * (1, 3)[i % 2] for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def _random_valid_codes(n: int, seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    codes = []
    for _ in range(n):
        first12 = "".join(str(d) for d in rng.integers(0, 10, 12))
        codes.append(first12 + str(_ean13_check_from_left(first12)))
    return codes


def test_doctests():
    failures, _ = doctest.testmod(farm.codes)
    assert failures == 0


@pytest.mark.parametrize("code", ["USRC17607839", "GBAYE0601498", "FRZ039800212", "JPA1B2300001", "DEA123456789"])
def test_valid_isrc(code):
    assert isrc_problem(code) is None


@pytest.mark.parametrize("code", ["US-RC1-76-07839", "us-rc1-76-07839", " USRC1 76 07839 ", "USRC17607839\n"])
def test_isrc_display_forms_are_accepted_and_normalized(code):
    assert isrc_problem(code) is None
    assert normalize_isrc(code) == "USRC17607839"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("USRC1760783", ["11 characters", "not 12"]),
        ("USRC176078391", ["13 characters"]),
        ("U1RC17607839", ["country code 'U1'", "letters"]),
        ("USR_17607839", ["registrant 'R_1'"]),
        ("USRCIA607839", ["year 'A6'", "digits"]),
        ("USRC1760783X", ["designation '0783X'", "five digits"]),
        ("ÉSRC17607839", ["country code"]),  # non-ASCII letters are not ISRC letters
        ("12RC1AB0783X", ["country code '12'", "year 'AB'", "designation"]),  # every wrong part is named
    ],
)
def test_malformed_isrc_messages_name_the_wrong_part(code, words):
    message = isrc_problem(code)
    assert message is not None
    for word in words:
        assert word in message


def test_gs1_check_digit_matches_independent_oracle_on_random_codes():
    for code in _random_valid_codes(500):
        assert gs1_check_digit(code[:12]) == int(code[-1])
        assert upc_problem(code) is None
        # A leading zero (EAN-13 -> GTIN-14) leaves the check digit unchanged, since weights run from the right.
        assert upc_problem("0" + code) is None


@pytest.mark.parametrize(
    "code",
    [
        "036000291452",  # UPC-A: check digit worked by hand (3*(0+6+0+2+1+5) + (3+0+0+9+4) = 58 -> 2)
        "4006381333931",  # EAN-13: 1*(4+0+3+1+3+9) + 3*(0+6+8+3+3+3) = 99 -> 1
        "0036000291452",  # the UPC-A written as EAN-13
        "0 36000 29145 2",
        "400-6381-33393-1",
    ],
)
def test_valid_upc(code):
    assert upc_problem(code) is None


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("", ["empty"]),
        ("03600029145", ["11 digits", "expected 12"]),
        ("036000291452123", ["15 digits"]),
        ("036000291453", ["check digit is 3", "is 2"]),
        ("4006381333930", ["check digit is 0", "is 1"]),
        ("O36000291452", ["'O'", "letter O for zero", "only digits"]),
        ("03600029145x", ["'x'"]),
        ("036000.291452", ["'.'"]),
    ],
)
def test_malformed_upc_messages(code, words):
    message = upc_problem(code)
    assert message is not None
    for word in words:
        assert word in message


def test_every_single_digit_error_is_caught():
    # A mod-10 check with weights 1 and 3 detects every single-digit substitution; check that we do.
    code = "4006381333931"
    for position in range(13):
        for digit in "0123456789":
            if digit == code[position]:
                continue
            typo = code[:position] + digit + code[position + 1 :]
            assert upc_problem(typo) is not None, typo


def test_normalize_upc_keeps_leading_zeros():
    assert normalize_upc(" 0 36000-29145 2 ") == "036000291452"


@pytest.mark.parametrize("payload", ["", "12a", "-1"])
def test_gs1_check_digit_rejects_non_digits(payload):
    with pytest.raises(ValueError, match="digits"):
        gs1_check_digit(payload)
