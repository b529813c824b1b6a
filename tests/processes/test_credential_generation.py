"""The credential cache's generation: every change to keys, apps and users' identities advances
it, once committed, and activity does not; views arriving while it is read share one read, and
entries cached before Redis lost it are not trusted after."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import update

from app.runtime import Runtime
from app.tenants.credentials import CredentialCache, new_cache
from app.users import service as users
from app.users.models import User
from tests.support.credentials import current_generation, new_user
from tests.support.factories import Tenant, make_key
from tests.support.sinks import wait_until


def test_credential_changes_advance_the_generation(runtime: Runtime, tenant: Tenant):
    seen = [current_generation(runtime)]
    make_key(runtime, tenant, ["read"])
    seen.append(current_generation(runtime))
    with runtime.database.transaction() as session:
        users.update_user(
            session=session,
            app_id=tenant.app_id,
            user_ref=new_user(session, tenant).id,
            changes={"email": "new@example.com"},
        )
    seen.append(current_generation(runtime))
    with runtime.database.transaction() as session:  # a bulk import's update by primary key
        user_id = new_user(session, tenant).id
        session.execute(update(User), [{"id": user_id, "email": "other@example.com"}])
    seen.append(current_generation(runtime))
    with runtime.database.transaction() as session:  # a Core statement on the table
        users_table = User.__table__
        session.execute(
            update(users_table).where(users_table.c.id == user_id).values(external_id="renamed")
        )
    seen.append(current_generation(runtime))

    assert len(set(seen)) == 5


def test_a_change_inside_a_savepoint_advances_the_generation_when_the_transaction_commits(
    runtime: Runtime, tenant: Tenant
):
    with runtime.database.transaction() as session:
        user_id = new_user(session, tenant).id
    with runtime.database.transaction() as session:
        with session.begin_nested():
            session.get_one(User, user_id).email = "moved@example.com"
        # Until the outer commit other processes still read the old email: a generation
        # advanced now would let them cache it as current.
        before_commit = current_generation(runtime)
    after_commit = current_generation(runtime)

    assert after_commit != before_commit


def test_a_view_begun_while_a_read_is_under_way_waits_for_a_read_of_its_own(runtime: Runtime):
    generation_key = runtime.key("auth", "generation-under-test")
    runtime.redis.set(generation_key, "before")
    first_read_sent, release_first_read = threading.Event(), threading.Event()

    class SlowFirstRead:
        """Redis whose first GET answers only once the test lets it (it was sent before)."""

        def __init__(self) -> None:
            self.gets = 0

        def get(self, key: str) -> bytes | None:
            self.gets += 1
            answer = runtime.redis.get(key)
            if self.gets == 1:
                first_read_sent.set()
                release_first_read.wait(timeout=10)
            return answer

    redis = SlowFirstRead()
    cache = CredentialCache(redis, generation_key, time.monotonic)  # type: ignore[arg-type]
    with ThreadPoolExecutor(2) as pool:
        early = pool.submit(cache.view)
        first_read_sent.wait(timeout=10)
        runtime.redis.set(generation_key, "after")  # another process revoked a key
        late = pool.submit(cache.view)
        wait_until(lambda: len(cache._reads._pending) == 1)
        release_first_read.set()
        seen = (early.result(timeout=10)._generation, late.result(timeout=10)._generation)

    assert seen == (b"before", b"after")
    assert redis.gets == 2


def test_views_arriving_together_share_one_read(runtime: Runtime):
    generation_key = runtime.key("auth", "generation-under-test")
    runtime.redis.set(generation_key, "current")
    first_read_sent, release_first_read = threading.Event(), threading.Event()
    gets = []

    class SlowFirstRead:
        def get(self, key: str) -> bytes | None:
            gets.append(key)
            if len(gets) == 1:
                first_read_sent.set()
                release_first_read.wait(timeout=10)
            return runtime.redis.get(key)

    cache = CredentialCache(SlowFirstRead(), generation_key, time.monotonic)  # type: ignore[arg-type]
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(cache.view)
        first_read_sent.wait(timeout=10)
        together = [pool.submit(cache.view) for _ in range(5)]
        wait_until(lambda: len(cache._reads._pending) == 5)
        release_first_read.set()
        views = [first.result(timeout=10)] + [view.result(timeout=10) for view in together]

    assert {view._generation for view in views} == {b"current"}
    assert len(gets) == 2  # the first view's, then one for the five that came meanwhile


def test_cached_entries_do_not_outlive_redis_losing_the_generation(runtime: Runtime):
    generation_key = runtime.key("auth", "generation-under-test")
    cache = new_cache(runtime.redis, generation_key)
    cache.view()
    held = runtime.redis.get(generation_key)
    cache.put("app", "app-1", "cached before the restart", held)
    runtime.redis.delete(generation_key)  # Redis restarted without its data ...
    other_process = new_cache(runtime.redis, generation_key)
    other_process.view()  # ... and another process started a generation since

    cache.view()

    assert runtime.redis.get(generation_key) != held
    assert cache.get("app", "app-1", runtime.redis.get(generation_key)) is None


def test_activity_leaves_the_generation_alone(runtime: Runtime, tenant: Tenant):
    with runtime.database.transaction() as session:
        user = new_user(session, tenant)
    before = current_generation(runtime)
    with runtime.database.transaction() as session:
        users.touch_user_for_call(
            session=session, app_id=tenant.app_id, external_id="u-1", email=None
        )
        users.mark_notified(session, app_id=tenant.app_id, user_ids=[user.id])
    with runtime.database.transaction() as session:  # a bulk import's update by primary key
        session.execute(update(User), [{"id": user.id, "first_name": "Ada"}])
    runtime.last_seen.touch(app_id=tenant.app_id, external_id="u-1", email=None)
    assert current_generation(runtime) == before
