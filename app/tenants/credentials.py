"""A per-process cache of verified credentials, so the hot paths skip the database.

Every authenticated call used to read the app, its key and (for user calls) the user from the
database before doing any work. This cache keeps, per web process:

- apps by id and by public API key, as column snapshots (each request gets its own `App`,
  attached to its session without a query, so changing it still works as usual);
- secret keys by the SHA-256 hash of the secret (never the secret itself): id, app, scopes;
- the users that WebSocket handshakes named, with when this process last wrote `last_seen_at`;
- user ids by external id, learned by handshakes and by `POST /send` (positive answers only:
  a user created later is simply looked up then).

Correctness across processes: a Redis value, the *generation*, is replaced by a fresh random
token after every commit that changes an app, a secret key, or a user's identity (external id,
email, deletion). Every answer of the cache is checked against a read of it made after the
request began, and the cache forgets everything when it differs, so a rotated or revoked key is
refused at once by every process. WebSocket handshakes read it first (one GET, shared by the
handshakes that arrive while none is under way); server calls are answered from the generation
last read and confirm it in the round trip that spends their rate-limit budget, starting again
from a fresh read when it moved (`app.auth`). A token, not a counter: after Redis loses its data a
counter would start again and could return to a value an idle process still holds. Entries also
expire on their own (`CREDENTIALS_TTL_S`, 5 s for apps and keys; `USER_TTL_S`, 60 s for users):
the bound on staleness when Redis could not be told of a change.
When Redis cannot be read, the cache is bypassed and the database answers.
"""

from __future__ import annotations

import copy
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError
from redis.commands.core import Script
from sqlalchemy import inspect
from sqlalchemy.orm import (
    Session,
    make_transient_to_detached,
)
from sqlalchemy.orm.util import identity_key

from app.group_commit import GroupCommit
from app.security import Encryptor, hash_secret
from app.tenants import service as tenants
from app.tenants.models import App
from app.users.last_seen import LastSeenWriter
from app.users.service import LAST_SEEN_RESOLUTION

log = logging.getLogger(__name__)

CREDENTIALS_TTL_S = 5.0  # apps and keys: the staleness bound when Redis missed a change
# Handshake users: also the interval between a process's `last_seen_at` writes.
USER_TTL_S = LAST_SEEN_RESOLUTION.total_seconds()
MAX_ENTRIES = 50_000  # per kind; beyond it the kind is emptied (a burst of misses, no growth)


@dataclass(frozen=True)
class CachedKey:
    """What a verified secret key grants, without the secret."""

    key_id: str
    app_id: str
    scopes: frozenset[str]
    owner_email: str | None
    is_primary: bool


@dataclass(frozen=True)
class CachedApp:
    """An app's column values, copied into a fresh `App` for each request."""

    columns: dict[str, Any]


@dataclass
class _Entry:
    value: Any
    expires: float


class CredentialCache:
    """Apps, keys and handshake users of one process, valid for one generation."""

    def __init__(self, redis: Redis, generation_key: str, clock: Callable[[], float]) -> None:
        self._redis = redis
        self.generation_key = generation_key
        self._clock = clock
        self._generation: bytes | None = None
        self._lock = threading.Lock()
        self._kinds: dict[str, dict[Any, _Entry]] = {
            kind: {} for kind in ("app", "api_key", "key", "primary", "user", "external_id")
        }
        # Requests arriving together (a reconnect storm) share a read (app.group_commit); a
        # read already under way when a request arrives may predate a change, so it waits.
        self._reads: GroupCommit[None, bytes | None] = GroupCommit(self._read_generation)

    def view(self) -> Credentials:
        """This request's view: the cache as of Redis's generation now, or none at all."""
        generation = self._reads.submit(None)
        if generation is not None:
            self.adopt(generation)
        return Credentials(self, generation)

    def last_known(self) -> Credentials:
        """A view as of the generation this process last read, without reading it again.

        Its answers hold only once a later read finds the same generation: see
        `Credentials.confirmation` (the rate limit's spend makes that read).
        """
        return Credentials(self, self._generation)

    def adopt(self, generation: bytes) -> None:
        """Take `generation`, read after the caller began, as current (a change forgets all)."""
        with self._lock:
            if generation != self._generation:
                for entries in self._kinds.values():
                    entries.clear()
                self._generation = generation

    def _read_generation(self, requests: Sequence[None]) -> list[bytes | None]:
        """One GET for every request waiting; each of them began before it was sent."""
        try:
            generation: bytes | None = self._redis.get(self.generation_key)
            if generation is None:
                generation = _START_GENERATION(
                    keys=[self.generation_key], args=[new_generation()], client=self._redis
                )
        except RedisError:
            generation = None  # cannot tell what changed: bypass the cache
        return [generation] * len(requests)

    def get(self, kind: str, key: Any, generation: bytes) -> Any:
        entry = self._kinds[kind].get(key)
        if entry is None or generation != self._generation or entry.expires < self._clock():
            return None
        return entry.value

    def put(self, kind: str, key: Any, value: Any, generation: bytes) -> None:
        """Keep a value read from the database after `generation` was current."""
        ttl = USER_TTL_S if kind in ("user", "external_id") else CREDENTIALS_TTL_S
        with self._lock:
            if generation != self._generation:
                return  # something changed since the read began: do not keep what it saw
            entries = self._kinds[kind]
            if len(entries) >= MAX_ENTRIES:
                entries.clear()
            entries[key] = _Entry(value, self._clock() + ttl)


class Credentials:
    """The credential lookups of one request, each answered from the cache when it can be."""

    def __init__(self, cache: CredentialCache, generation: bytes | None) -> None:
        self._cache = cache
        self._generation = generation

    @property
    def generation(self) -> bytes | None:
        """The generation this view's cached answers belong to; None: all from the database."""
        return self._generation

    def confirmation(self) -> tuple[str, bytes, str]:
        """What a Redis script needs to check that this view is still current (with
        `generation_lua`): the generation's key, this view's generation (empty when it used no
        cache: nothing to confirm) and a generation to start should Redis hold none."""
        return self._cache.generation_key, self._generation or b"", new_generation()

    def confirmed(self, current: bytes) -> bool:
        """Whether `current`, the generation as read after this view's answers were given, is
        still this view's (always when it used no cache); the cache adopts it either way."""
        self._cache.adopt(current)
        return self._generation is None or self._generation == current

    def _get(self, kind: str, key: Any) -> Any:
        return None if self._generation is None else self._cache.get(kind, key, self._generation)

    def _put(self, kind: str, key: Any, value: Any) -> None:
        if self._generation is not None:
            self._cache.put(kind, key, value, self._generation)

    def find_app(
        self,
        session: Session,
        *,
        api_key: str | None = None,
        app_id: str | None = None,
        attach: bool = True,
    ) -> App | None:
        """The app with this id or public API key, attached to `session`; with `attach=False`,
        when cached, a detached copy to read only (the session's bookkeeping is then spared)."""
        app_id = app_id or (self._get("api_key", api_key) if api_key else None)
        cached: CachedApp | None = self._get("app", app_id) if app_id else None
        if cached is not None:
            return attach_app(session, cached) if attach else detached_app(cached)
        if app_id:
            app = session.get(App, app_id)
        elif api_key:
            app = tenants.find_tenant_by_api_key(session=session, api_key=api_key)
        else:
            return None
        if app is not None:
            self._remember_app(app)
        return app

    def _remember_app(self, app: App) -> None:
        self._put("app", app.id, snapshot_app(app))
        self._put("api_key", app.api_key, app.id)

    def find_key(self, session: Session, secret: str) -> CachedKey | None:
        """The unrevoked secret key whose secret this is, in any app (its app is then cached)."""
        digest = hash_secret(secret)
        cached: CachedKey | None = self._get("key", digest)
        if cached is not None:
            return cached
        key = tenants.find_active_key(session=session, secret=secret)
        if key is None:
            return None
        cached = CachedKey(
            key_id=key.id,
            app_id=key.app_id,
            scopes=frozenset(key.scopes),
            owner_email=key.owner_email,
            is_primary=key.is_primary,
        )
        self._put("key", digest, cached)
        self._remember_app(key.app)
        return cached

    def primary_secret(self, session: Session, *, app: App, encryptor: Encryptor) -> str:
        """The app's plain primary secret; only its encrypted form is cached."""
        encrypted: str | None = self._get("primary", app.id)
        if encrypted is None:
            encrypted = tenants.primary_secret_encrypted(session=session, app_id=app.id)
            self._put("primary", app.id, encrypted)
        return encryptor.decrypt(encrypted)

    def handshake_user(
        self, last_seen: LastSeenWriter, *, app_id: str, external_id: str | None, email: str | None
    ) -> str | None:
        """The id of the user a handshake names, with `last_seen_at` moved to now.

        A user this process saw in the last `USER_TTL_S` costs nothing (`last_seen_at` is then
        at most that old); else one statement. None when the user does not exist yet.
        """
        key = (app_id, external_id, None if external_id else email)
        user_id: str | None = self._get("user", key)
        if user_id is None:
            user_id = last_seen.touch(app_id=app_id, external_id=external_id, email=email)
            if user_id is not None:
                self.remember_user(
                    app_id=app_id, external_id=external_id, email=email, user_id=user_id
                )
        return user_id

    def remember_user(
        self, *, app_id: str, external_id: str | None, email: str | None, user_id: str
    ) -> None:
        """Keep a handshake's user (its `last_seen_at` was just written), also by external id."""
        self._put("user", (app_id, external_id, None if external_id else email), user_id)
        if external_id:
            self.remember_external_ids(app_id, {external_id: user_id})

    def users_by_external_id(
        self, app_id: str, names: list[str]
    ) -> tuple[dict[str, str], list[str]]:
        """The user ids this process knows for these external ids, and the names it does not.

        A known external id is authoritative for its name: an external id wins over an email
        (see `match_names`), and any change of either bumps the generation.
        """
        known: dict[str, str] = {}
        unknown = []
        for name in names:
            user_id = self._get("external_id", (app_id, name))
            if user_id is None:
                unknown.append(name)
            else:
                known[name] = user_id
        return known, unknown

    def remember_external_ids(self, app_id: str, user_ids: dict[str, str]) -> None:
        """Keep user ids read from the database by external id (after this view began)."""
        for external_id, user_id in user_ids.items():
            self._put("external_id", (app_id, external_id), user_id)


def snapshot_app(app: App) -> CachedApp:
    columns = {attr.key: getattr(app, attr.key) for attr in inspect(App).column_attrs}
    return CachedApp(_copied(columns))


def _copied(columns: dict[str, Any]) -> dict[str, Any]:
    """Column values no request can change in place: JSON documents (dicts, lists) copied."""
    return {k: copy.deepcopy(v) if isinstance(v, dict | list) else v for k, v in columns.items()}


def attach_app(session: Session, cached: CachedApp) -> App:
    """The cached app as a persistent, unmodified `App` of this session, without a query."""
    return attached_app(session, detached_app(cached))


def attached_app(session: Session, app: App) -> App:
    """A detached `App` as this session's (its own copy, when it already holds one)."""
    present = session.identity_map.get(identity_key(App, app.id))
    if present is not None:
        return present  # type: ignore[no-any-return]
    session.add(app)
    return app


def detached_app(cached: CachedApp) -> App:
    """The cached app as a detached `App`, filled like a row the ORM loaded (no attribute
    events, so nothing counts as changed once it is attached)."""
    app: App = inspect(App).class_manager.new_instance()
    app.__dict__.update(_copied(cached.columns))
    make_transient_to_detached(app)
    return app


def new_generation() -> str:
    return secrets.token_hex(8)


def generation_lua(key: str, fresh: str) -> str:
    """Lua setting `generation` to the generation at `key`, first starting it with `fresh` when
    Redis holds none (never set, or lost with Redis's data); `key` and `fresh` are Lua
    expressions (`KEYS[2]`, `ARGV[3]`). Every reader of the generation starts it this way."""
    return f"""
local generation = redis.call('GET', {key})
if not generation then
  redis.call('SET', {key}, {fresh}, 'NX')
  generation = redis.call('GET', {key})
end
"""


_START_GENERATION = Script(
    None,  # type: ignore[arg-type]
    (generation_lua("KEYS[1]", "ARGV[1]") + "return generation").encode(),
)


def new_cache(redis: Redis, generation_key: str) -> CredentialCache:
    return CredentialCache(redis, generation_key, time.monotonic)
