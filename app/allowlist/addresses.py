"""Email address parsing and domain matching, safe against look-alike tricks."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


@dataclass(frozen=True)
class Address:
    """A valid address: `ascii_domain` is the IDNA (punycode) form, lower case."""

    normalized: str
    local_part: str
    ascii_domain: str

    @property
    def canonical(self) -> str:
        """Case-insensitive domain, IDNA form: how lists store and compare addresses."""
        return f"{self.local_part}@{self.ascii_domain}"


def parse_address(raw: str) -> Address | None:
    """None when not a syntactically valid address (quoted local parts and trailing dots too)."""
    if not isinstance(raw, str) or len(raw) > 254 or raw != raw.strip():
        return None
    try:
        result = validate_email(raw, check_deliverability=False, allow_quoted_local=False)
    except EmailNotValidError:
        return None
    ascii_domain = (result.ascii_domain or result.domain).lower().rstrip(".")
    return Address(result.normalized, result.local_part, ascii_domain)


def ascii_domain_pattern(pattern: str) -> str:
    """A listed domain ("example.com" or "*.example.com") in IDNA form; ValueError if invalid."""
    wildcard = pattern.startswith("*.")
    bare = pattern[2:] if wildcard else pattern
    address = parse_address(f"probe@{bare}")
    if address is None or "*" in bare:
        raise ValueError(f"not a valid domain: {pattern!r}")
    return ("*." if wildcard else "") + address.ascii_domain


def domain_matches(domain: str, pattern: str) -> bool:
    """Exact match, or for "*.example.com" any subdomain at any depth (not example.com itself).

    Comparison is on whole labels, so `example.com.evil.io` never matches `example.com`.
    """
    if pattern.startswith("*."):
        return domain.endswith("." + pattern[2:])
    return domain == pattern
