"""APNs provider tokens: signed once per key and reused, replaced when too old or refused."""

from __future__ import annotations

import jwt

from app.engine.channels.apns import ProviderTokens
from app.push.providers import ApnsCredentials
from tests.support.mobile_push import new_apns_key

KEY = new_apns_key()
CREDENTIALS = ApnsCredentials(
    key_id=KEY.key_id,
    team_id=KEY.team_id,
    private_key=KEY.p8,
    bundle_id="com.shop.app",
    environment="sandbox",
)


def test_a_token_is_an_es256_jwt_naming_the_key_and_team_and_is_reused():
    tokens = ProviderTokens()

    first, second = tokens.token(CREDENTIALS), tokens.token(CREDENTIALS)

    assert first == second
    assert jwt.get_unverified_header(first) == {"alg": "ES256", "kid": KEY.key_id, "typ": "JWT"}
    claims = jwt.decode(first, KEY.public_key, algorithms=["ES256"])
    assert claims["iss"] == KEY.team_id and isinstance(claims["iat"], int)


def test_a_token_past_its_lifetime_is_signed_again():
    tokens = ProviderTokens(lifetime_s=0)

    first = tokens.token(CREDENTIALS)

    assert tokens.token(CREDENTIALS) != first  # ECDSA signs differently each time


def test_a_refused_token_is_replaced_once_whoever_reports_it():
    tokens = ProviderTokens(lifetime_s=3000)
    refused = tokens.token(CREDENTIALS)

    replacement = tokens.token(CREDENTIALS, rejected=refused)
    reported_again = tokens.token(CREDENTIALS, rejected=refused)  # a thread refused at once

    assert replacement != refused
    assert replacement == reported_again
    assert tokens.token(CREDENTIALS) == replacement
