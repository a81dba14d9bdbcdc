"""Normalising identifiers: the key we match on. Pure; the original text is kept elsewhere.

- email: case-folded, IDNA domain, ``+tag`` dropped, dots dropped at gmail.com (googlemail.com is
  the same mailbox);
- domain: IDNA (punycode) lower case, no leading ``@`` or dot;
- phone: E.164 using the household's default region for local forms; alphanumeric sender ids
  and short codes kept as they are (folded);
- alias / display name: confusable skeleton with case and space folding.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache

import idna

from nocontact.people.skeleton import fold, skeleton

KINDS = ("email", "domain", "phone", "alias")
GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


class InvalidIdentifier(ValueError):
    """The text cannot be an identifier of that kind; the message says why."""


_PLAIN_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")
_SPACE = re.compile(r"\s")  # the characters str.isspace() accepts, no more and no fewer


@lru_cache(maxsize=65536)
def normalise_domain(domain: str) -> str:
    d = domain.strip().lstrip("@").strip(".").lower()
    if d.isascii() and _PLAIN_DOMAIN.fullmatch(d) and "xn--" not in d:
        return d  # the common case needs no IDNA processing
    d = fold(domain).strip().lstrip("@").strip(".")
    if not d or " " in d:
        raise InvalidIdentifier(f"not a domain: {domain!r}")
    try:
        return idna.encode(d, uts46=True).decode("ascii").lower()
    except idna.IDNAError:
        # keep odd but harmless forms (underscores, etc.) matchable as text
        if re.fullmatch(r"[\w.-]+", d):
            return d
        raise InvalidIdentifier(f"not a domain: {domain!r}") from None


@lru_cache(maxsize=65536)
def normalise_email(address: str) -> str:
    a = address.strip().strip("<>").strip()
    local, at, domain = a.rpartition("@")
    if not at or not local or not domain or _SPACE.search(a):
        raise InvalidIdentifier(f"not an email address: {address!r}")
    d = normalise_domain(domain)
    lp = fold(local).split("+", 1)[0]
    if not lp:
        raise InvalidIdentifier(f"not an email address: {address!r}")
    if d in GMAIL_DOMAINS:
        d = "gmail.com"
        lp = lp.replace(".", "")
    return f"{lp}@{d}"


def email_domain(normalised_email: str) -> str:
    return normalised_email.rpartition("@")[2]


@lru_cache(maxsize=65536)
def email_lookalike_key(address: str) -> str:
    """Skeleton of an address: 'jon.smith@examp1e.com' and 'jon.smith@example.com' agree."""
    n = normalise_email(address)
    local, _, domain = n.rpartition("@")
    if "xn--" in domain:
        with contextlib.suppress(idna.IDNAError):
            domain = idna.decode(domain)
    return f"{skeleton(local).replace('.', '')}@{_domain_skeleton(domain)}"


@lru_cache(maxsize=4096)
def _domain_skeleton(domain: str) -> str:
    return skeleton(domain)  # (a mailbox's mail comes from far fewer domains than addresses)


@lru_cache(maxsize=65536)  # texts repeat a few senders, and parsing one costs ~20 us
def normalise_phone(number: str, region: str) -> str:
    raw = number.strip()
    if not raw:
        raise InvalidIdentifier("empty phone number")
    if any(ch.isalpha() for ch in raw):
        return fold(raw)  # alphanumeric sender id ("BANK", "Jon-Mobile")
    digits = re.sub(r"\D", "", raw)
    if not digits:
        raise InvalidIdentifier(f"not a phone number: {number!r}")
    if len(digits) <= 6 and not raw.startswith("+"):
        return digits  # short code
    import phonenumbers  # here: 17 ms to load, and most mail polls never read a number

    try:
        parsed = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException:
        return "+" + digits if raw.startswith("+") else digits
    if not phonenumbers.is_possible_number(parsed):
        return "+" + digits if raw.startswith("+") else digits
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalise_alias(alias: str) -> str:
    s = skeleton(alias)
    if not s:
        raise InvalidIdentifier("empty name")
    return s


def normalise(kind: str, value: str, *, region: str) -> str:
    if kind == "email":
        return normalise_email(value)
    if kind == "domain":
        return normalise_domain(value)
    if kind == "phone":
        return normalise_phone(value, region)
    if kind == "alias":
        return normalise_alias(value)
    raise InvalidIdentifier(f"unknown identifier kind {kind!r}")
