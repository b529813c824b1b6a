"""Apps' mobile push providers: an FCM service account (Android) and an APNs token key (iOS).

Both are checked when saved and stored on the app with their key material encrypted; reads
show only what identifies them. The senders read them back, decrypted, through
`fcm_service_account` and `apns_credentials`. Services flush; the caller owns the transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy.orm import Session

from app.refusals import ErrorDetail, InvalidRequest, NotFound, invalid
from app.security import Encryptor
from app.tenants.models import App

if TYPE_CHECKING:  # the guard is given by the caller (the runtime's)
    from app.engine.channels.destinations import DestinationGuard

PROVIDERS = ("fcm", "apns")
PLATFORM_OF = {"fcm": "android", "apns": "ios"}
ENVIRONMENTS = ("production", "sandbox")

FCM_KEY_FIELD = "serviceAccount.private_key"
TOKEN_URI_FIELD = "serviceAccount.token_uri"
APNS_KEY_FIELD = "privateKey"
# Google signs service-account tokens with RS256, which needs keys of 2048 bits or more.
MIN_RSA_BITS = 2048
# Apple's .p8 file: one PKCS#8 PEM block and nothing else.
_P8 = re.compile(r"-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----")


@dataclass(frozen=True)
class ApnsCredentials:
    """What signs an app's APNs provider tokens, and where its notifications go."""

    key_id: str
    team_id: str
    private_key: str  # the .p8 PEM text, decrypted
    bundle_id: str
    environment: str  # "production" | "sandbox"


class PushProviderNotFound(NotFound):
    code = "ERR_PUSH_PROVIDER_NOT_FOUND"


class PushProviderNotConfigured(NotFound):
    code = "ERR_PUSH_PROVIDER_NOT_CONFIGURED"


def configure_fcm(
    *,
    session: Session,
    app: App,
    service_account: dict[str, Any],
    encryptor: Encryptor,
    destinations: DestinationGuard,
) -> None:
    """Check an FCM service account (its RSA key parses; `destinations` lets Herald fetch tokens
    from its `token_uri`) and store it encrypted, replacing the app's current one."""
    problems = [
        *_problem(FCM_KEY_FIELD, _rsa_key_problem(service_account["private_key"])),
        *_problem(TOKEN_URI_FIELD, destinations.registration_refusal(service_account["token_uri"])),
    ]
    if problems:
        raise invalid(problems)
    document = json.dumps(service_account, separators=(",", ":"), sort_keys=True)
    app.fcm = {
        "project_id": service_account["project_id"],
        "client_email": service_account["client_email"],
        "service_account_encrypted": encryptor.encrypt(document),
    }
    session.flush()


def configure_apns(
    *, session: Session, app: App, credentials: dict[str, str], encryptor: Encryptor
) -> None:
    """Check an APNs token key (an EC P-256 PKCS#8 PEM, Apple's .p8) and store it encrypted with
    its key, team, bundle and environment, replacing the app's current one."""
    private_key = _p8_text(credentials["private_key"])
    problem = _p8_key_problem(private_key)
    if problem is not None:
        raise InvalidRequest(problem, field=APNS_KEY_FIELD)
    app.apns = {
        "key_id": credentials["key_id"],
        "team_id": credentials["team_id"],
        "bundle_id": credentials["bundle_id"],
        "environment": credentials["environment"],
        "private_key_encrypted": encryptor.encrypt(private_key),
    }
    session.flush()


def remove_provider(*, session: Session, app: App, provider: str) -> None:
    """Forget the app's credentials for `provider` (`fcm` or `apns`): its pushes stop."""
    if provider not in PROVIDERS:
        known = " or ".join(PROVIDERS)
        raise PushProviderNotFound(f"No push provider {provider!r}: {known}.")
    if getattr(app, provider) is None:
        raise PushProviderNotConfigured(f"The app has no {provider} credentials.")
    setattr(app, provider, None)
    session.flush()


def provider_settings(app: App) -> dict[str, dict[str, Any]]:
    """What the app's providers show: whether each is configured, and what identifies it."""
    fcm, apns = app.fcm or {}, app.apns or {}
    return {
        "fcm": {
            "configured": app.fcm is not None,
            **{name: fcm.get(name) for name in ("project_id", "client_email")},
        },
        "apns": {
            "configured": app.apns is not None,
            **{name: apns.get(name) for name in ("key_id", "team_id", "bundle_id", "environment")},
        },
    }


def fcm_service_account(app: App, encryptor: Encryptor) -> dict[str, Any] | None:
    """The app's FCM service account (the JSON file's object), decrypted; None if not set."""
    if app.fcm is None:
        return None
    document: dict[str, Any] = json.loads(encryptor.decrypt(app.fcm["service_account_encrypted"]))
    return document


def apns_credentials(app: App, encryptor: Encryptor) -> ApnsCredentials | None:
    """The app's APNs token key and its details, decrypted; None if not set."""
    if app.apns is None:
        return None
    stored = app.apns
    return ApnsCredentials(
        key_id=stored["key_id"],
        team_id=stored["team_id"],
        private_key=encryptor.decrypt(stored["private_key_encrypted"]),
        bundle_id=stored["bundle_id"],
        environment=stored["environment"],
    )


def configured_platforms(app: App) -> frozenset[str]:
    """The mobile platforms the app can push to: `android` with FCM, `ios` with APNs."""
    return frozenset(PLATFORM_OF[name] for name in PROVIDERS if getattr(app, name) is not None)


def _problem(field: str, message: str | None) -> list[ErrorDetail]:
    return [] if message is None else [ErrorDetail("ERR_BAD_REQUEST", message, field)]


def _rsa_key_problem(pem: str) -> str | None:
    """Why a service account's key cannot sign Google's tokens, or None."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:  # a key that needs a password
        return "The private key must not be encrypted."
    except (ValueError, UnsupportedAlgorithm):
        return "The private key must be the service account's PEM RSA private key."
    if not isinstance(key, rsa.RSAPrivateKey):
        return "The private key must be an RSA key."
    if key.key_size < MIN_RSA_BITS:
        return f"The key has {key.key_size} bits; Google needs {MIN_RSA_BITS} or more."
    return None


def _p8_text(pem: str) -> str:
    """The PEM text as stored: stripped, one key line per line, `\n` line ends."""
    return "\n".join(line.strip() for line in pem.strip().splitlines()) + "\n"


def _p8_key_problem(text: str) -> str | None:
    """Why a key is not an APNs token key (one unencrypted PKCS#8 EC P-256 key), or None."""
    if not _P8.fullmatch(text.strip()):
        return "The private key must be the .p8 file's text: a PEM PKCS#8 private key."
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (TypeError, ValueError, UnsupportedAlgorithm):
        return "The private key must be the .p8 file's text: a PEM PKCS#8 private key."
    if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
        return "APNs keys are EC P-256 keys (ES256); this one is not."
    return None
