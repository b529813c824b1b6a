"""Sending rates shared by every worker process: the relay's (SMTP_MAX_PER_SECOND) and each
app's (`emailPerSecond`), enforced by one Redis script.

Each limit is a schedule (GCRA, the generic cell rate algorithm): `tat`, the time its next send
is due, moves on by one interval (a second / the rate) with every send granted. A send may go
once every limit it is under allows it, checked and spent in one script, so that a send refused
by the relay never spends the app's share. Times are Redis's own clock, which every process
shares.

Lanes, in order of precedence:

- **realtime** sends may run a little further ahead of the schedule than batch sends (one
  interval, or `REALTIME_RESERVE_S`, whichever is longer), and never wait in a line: while a
  batch saturates the relay, a realtime email still goes at once;
- a **batch** send refused joins the line of the first limit that refused it (a second
  timestamp, `line`, counting the turns already promised) and is told when its turn comes; it
  comes back then, with that limit counted as passed (`turns`), so that a backlog asks the
  script about once per send instead of every message retrying at every free slot. The app's
  line comes before the relay's: a send held back by its app's share does not hold a place in
  the relay's line meanwhile.

Batch sends may run `BATCH_AHEAD_S` ahead of the schedule: delayed messages reach workers in
groups (a worker polls its delay queue every WORKER_POLL_MS), and each group must pass. Over any
interval of t seconds a limit of r per second therefore sees at most 1 + r (t + BATCH_AHEAD_S)
batch sends (docs/deliverability.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis, RedisError

from app.config import Settings

log = logging.getLogger(__name__)

BATCH_AHEAD_S = 0.1
REALTIME_RESERVE_S = 0.1
_US = 1_000_000

# KEYS: the limits, narrowest first (the app's, then the relay's). ARGV: lane, turns (limits
# whose line the send has already waited in), batch tolerance and realtime reserve (µs), now (µs,
# or '' for Redis's clock), then each limit's interval (µs). Returns {wait µs, turns}.
_TAKE_LUA = """
local lane, turns = ARGV[1], tonumber(ARGV[2])
local ahead, reserve = tonumber(ARGV[3]), tonumber(ARGV[4])
local now = tonumber(ARGV[5])
if not now then
  local clock = redis.call('TIME')
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
local tats, lines, intervals = {}, {}, {}
local refused, wait = 0, 0
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'tat', 'line')
  local interval = tonumber(ARGV[5 + i])
  local tat = math.max(tonumber(state[1]) or now, now)
  local line = math.max(tonumber(state[2]) or now, tat)
  tats[i], lines[i], intervals[i] = tat, line, interval
  local free, tolerance = tat, ahead
  if lane == 'realtime' then
    tolerance = ahead + math.max(interval, reserve)
  elseif i > turns then
    free = line
  end
  if free - tolerance > now and refused == 0 then
    refused, wait = i, free - tolerance - now
  end
end
local function keep(i)
  local last = math.max(tats[i], lines[i])
  redis.call('PEXPIRE', KEYS[i], math.ceil((last - now) / 1000) + 1000)
end
if refused == 0 then
  for i, key in ipairs(KEYS) do
    tats[i] = tats[i] + intervals[i]
    redis.call('HSET', key, 'tat', string.format('%.0f', tats[i]))
    keep(i)
  end
  return {0, 0}
end
if lane == 'realtime' or refused <= turns then
  return {math.ceil(wait), turns}
end
local turn = lines[refused]
lines[refused] = turn + intervals[refused]
redis.call('HSET', KEYS[refused], 'line', string.format('%.0f', lines[refused]))
keep(refused)
return {math.ceil(turn - now), refused}
"""


class Lane(StrEnum):
    REALTIME = "realtime"
    BATCH = "batch"


@dataclass(frozen=True)
class Decision:
    """`wait_ms` 0: send now. Otherwise ask again in `wait_ms`, saying `turns` (the limits whose
    line this send has waited in)."""

    wait_ms: int = 0
    turns: int = 0

    @property
    def granted(self) -> bool:
        return self.wait_ms == 0


GO = Decision()


class SendingRates:
    """The relay's rate and each app's, across every process (None or 0: unlimited)."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        relay_per_second: int | None,
        clock_us: Callable[[], int] | None = None,
    ) -> None:
        if relay_per_second is not None and relay_per_second < 0:
            raise ValueError("SMTP_MAX_PER_SECOND: give a positive number of emails, or 0.")
        self._redis = redis
        self._prefix = prefix
        self._relay = relay_per_second or None
        # Tests pin the clock; processes use Redis's, which they all share.
        self._clock_us = clock_us
        self._script = redis.register_script(_TAKE_LUA)

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis) -> SendingRates:
        """SMTP_MAX_PER_SECOND (ValueError names a negative one)."""
        return cls(
            redis, prefix=settings.redis_prefix, relay_per_second=settings.smtp_max_per_second
        )

    def limits(self, app_id: str, app_per_second: int | None) -> list[tuple[str, int]]:
        """(key, rate) of each limit a send of this app is under, narrowest first."""
        limits = []
        if app_per_second:
            limits.append((f"{self._prefix}rates:app:{app_id}", app_per_second))
        if self._relay:
            limits.append((f"{self._prefix}rates:relay", self._relay))
        return limits

    def take(
        self, *, app_id: str, app_per_second: int | None, lane: Lane, turns: int = 0
    ) -> Decision:
        """Spend a send of every limit, or say when to ask again. Redis unreachable lets the
        send through (logged): the workers then only hold what they had already taken from
        Redis, a few dozen messages per process, and a relay over its quota defers them, which
        the retries absorb."""
        limits = self.limits(app_id, app_per_second)
        if not limits:
            return GO
        now = "" if self._clock_us is None else str(self._clock_us())
        args = [lane.value, turns, round(BATCH_AHEAD_S * _US), round(REALTIME_RESERVE_S * _US), now]
        args += [max(1, round(_US / rate)) for _, rate in limits]
        try:
            wait_us, new_turns = self._script(keys=[key for key, _ in limits], args=args)
        except RedisError as exc:
            log.warning("sending rate not checked: Redis unreachable (%s)", type(exc).__name__)
            return GO
        if wait_us <= 0:
            return GO
        return Decision(wait_ms=max(1, math.ceil(wait_us / 1000)), turns=int(new_turns))
