"""Release and recording identifiers: ISRC and UPC/EAN/GTIN.

The functions here check the *form* of a code, which is what a distributor's ingest rejects first. They cannot
tell whether a code was really assigned (that needs the registrant's or GS1's records), and the ISRC country
prefix is checked as two letters, not against the list of prefixes IFPI has issued.

Both kinds of code are commonly written with spaces or hyphens for people (``US-RC1-76-07839``,
``0 36000 29145 2``); the stored and delivered form has neither. The ``*_problem`` functions normalize first, so
the display forms are accepted, and quote the code as given in their messages so a person can find it.

Examples
--------
>>> isrc_problem("US-RC1-76-07839") is None
True
>>> upc_problem("036000291453")
"UPC/EAN '036000291453': check digit is 3 but the GS1 mod-10 check digit of 03600029145 is 2"
"""

from __future__ import annotations

import string

__all__ = ["normalize_isrc", "isrc_problem", "normalize_upc", "upc_problem", "gs1_check_digit"]

_ISRC_FORM = "CC-XXX-YY-NNNNN: country letters, registrant letters/digits, year digits, designation digits"
_UPC_LENGTHS = {12: "UPC-A", 13: "EAN-13", 14: "GTIN-14"}


def _strip_separators(code: str) -> str:
    # Hyphens and any whitespace are presentation only; neither code can contain them.
    return "".join(code.split()).replace("-", "")


def normalize_isrc(code: str) -> str:
    """Return an ISRC in its stored form: no spaces or hyphens, upper case.

    Parameters
    ----------
    code : str
        The code as written, e.g. ``"us-rc1-76-07839"``.

    Returns
    -------
    str
        e.g. ``"USRC17607839"``. The result is not validated; see :func:`isrc_problem`.
    """
    return _strip_separators(code).upper()


def isrc_problem(code: str) -> str | None:
    """Say what is wrong with an ISRC, or return None when its form is valid.

    An ISRC is 12 characters: a two-letter country prefix, a three-character registrant (letters or digits), two
    digits of the reference year and a five-digit designation. It has no check digit, so a mistyped digit in a
    well-formed code cannot be detected here.

    Parameters
    ----------
    code : str
        The code as written; it is normalized with :func:`normalize_isrc` first.

    Returns
    -------
    str or None
        A sentence naming each wrong part, or None.

    Examples
    --------
    >>> isrc_problem("USRC17607839") is None
    True
    >>> isrc_problem("US-RC1-76-0783X")
    "ISRC 'US-RC1-76-0783X': designation '0783X' must be five digits (CC-XXX-YY-NNNNN)"
    """
    if not code.strip():
        return f"ISRC is empty ({_ISRC_FORM})"
    norm = normalize_isrc(code)
    if len(norm) != 12:
        return f"ISRC {code!r} is {len(norm)} characters, not 12 ({_ISRC_FORM})"
    country, registrant, year, designation = norm[:2], norm[2:5], norm[5:7], norm[7:]
    # Explicit ASCII sets: str.isalpha() would accept letters such as 'É' that no ISRC contains.
    letters, digits = set(string.ascii_uppercase), set(string.digits)
    wrong = []
    if not set(country) <= letters:
        wrong.append(f"country code {country!r} must be two letters A-Z")
    if not set(registrant) <= letters | digits:
        wrong.append(f"registrant {registrant!r} must be three letters or digits")
    if not set(year) <= digits:
        wrong.append(f"year {year!r} must be two digits")
    if not set(designation) <= digits:
        wrong.append(f"designation {designation!r} must be five digits")
    if not wrong:
        return None
    return f"ISRC {code!r}: " + "; ".join(wrong) + " (CC-XXX-YY-NNNNN)"


def normalize_upc(code: str) -> str:
    """Return a UPC/EAN/GTIN without spaces or hyphens (not validated; see :func:`upc_problem`)."""
    return _strip_separators(code)


def gs1_check_digit(payload: str) -> int:
    """The GS1 mod-10 check digit of a string of digits (the code without its last digit).

    Weights 3, 1, 3, 1, ... apply from the rightmost payload digit leftwards, which gives the same digit for
    UPC-A, EAN-13 and GTIN-14 (an EAN-13 is a UPC-A with a leading zero).

    Parameters
    ----------
    payload : str
        Digits only, e.g. the first 11 digits of a UPC-A.

    Returns
    -------
    int
        0..9.

    Examples
    --------
    >>> gs1_check_digit("03600029145")
    2
    """
    if not payload or not set(payload) <= set(string.digits):
        raise ValueError(f"GS1 payload {payload!r} must be a non-empty string of digits 0-9")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return (10 - total % 10) % 10


def upc_problem(code: str) -> str | None:
    """Say what is wrong with a release barcode, or return None when it is valid.

    Accepts UPC-A (12 digits), EAN-13 (13 digits, also the CD's Media Catalog Number) and GTIN-14 (14 digits),
    each ending in a GS1 mod-10 check digit.

    Parameters
    ----------
    code : str
        The code as written; spaces and hyphens are ignored.

    Returns
    -------
    str or None
        A sentence saying what is wrong (length, a non-digit, or the check digit that was expected), or None.

    Examples
    --------
    >>> upc_problem("4006381333931") is None
    True
    >>> upc_problem("40063813339")
    "UPC/EAN '40063813339' is 11 digits; expected 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14)"
    """
    if not code.strip():
        return "UPC/EAN is empty (expected 12 digits for UPC-A or 13 for EAN-13)"
    norm = normalize_upc(code)
    bad = sorted({c for c in norm if c not in string.digits})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        hint = " (letter O for zero?)" if "O" in bad or "o" in bad else ""
        return f"UPC/EAN {code!r} contains {shown}{hint}; only digits 0-9 are allowed"
    if len(norm) not in _UPC_LENGTHS:
        return (
            f"UPC/EAN {code!r} is {len(norm)} digits; expected 12 (UPC-A), 13 (EAN-13) or 14 (GTIN-14)"
        )
    expected = gs1_check_digit(norm[:-1])
    if int(norm[-1]) != expected:
        return (
            f"UPC/EAN {code!r}: check digit is {norm[-1]} but the GS1 mod-10 check digit of {norm[:-1]} "
            f"is {expected}"
        )
    return None
