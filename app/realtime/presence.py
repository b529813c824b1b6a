"""Presence in Redis: which web process holds how many sockets of which user, and routing.

Layout (every key under the installation prefix):
- `rt:presence:<app_id>:<user_id>`: hash, web process id -> number of that user's sockets there;
- `rt:processes`: sorted set, web process id -> its last heartbeat (Redis server time);
- `rt:process:<pid>:held`: set of the presence hashes a process has fields in (for reaping);
- `rt:process:<pid>`: the pub/sub channel of one web process.

A process counts only while its heartbeat is fresher than the presence TTL, so the sockets of
a crashed process stop counting within one TTL; any live process then reaps its fields.

Routing is one Lua script: it reads presence, counts the sockets reached, and publishes each
live process one message listing its users, so the count and the fan-out agree exactly. A
caller that has already written to its own sockets names itself, and is left out of both.
Message format (frames are compact JSON, which never holds a raw newline; ids are UUIDs):
`<app_id>\\n<frame>\\n<user_id>,<user_id>...\\n<frame>\\n<user_ids>...`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis import Redis
from redis.commands.core import Script

if TYPE_CHECKING:
    from app.runtime import Runtime

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

HEARTBEAT = """
local t = redis.call('TIME')
return redis.call('ZADD', KEYS[1], tonumber(t[1]) + tonumber(t[2]) / 1000000, ARGV[1])
"""

# KEYS[1] the process's held set, KEYS[2..] presence hashes; ARGV[1] pid, ARGV[2..] counts.
# Absolute counts, not increments: a write retried after a lost reply changes nothing more.
WRITE = """
for i = 2, #KEYS do
  if tonumber(ARGV[i]) <= 0 then
    redis.call('HDEL', KEYS[i], ARGV[1])
    redis.call('SREM', KEYS[1], KEYS[i])
  else
    redis.call('HSET', KEYS[i], ARGV[1], ARGV[i])
    redis.call('SADD', KEYS[1], KEYS[i])
  end
end
return #KEYS - 1
"""

# KEYS[1] processes; ARGV: held-set prefix, ttl seconds, [pid to remove regardless of age]
REAP = (
    _NOW
    + """
local pids
if ARGV[3] then pids = {ARGV[3]} else
  pids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
end
for _, pid in ipairs(pids) do
  local held = ARGV[1] .. pid .. ':held'
  for _, key in ipairs(redis.call('SMEMBERS', held)) do redis.call('HDEL', key, pid) end
  redis.call('DEL', held)
  redis.call('ZREM', KEYS[1], pid)
end
return #pids
"""
)

# KEYS[1] processes; ARGV: presence prefix, channel prefix, ttl, app id, process id to leave
# out (or ""), (frame, user csv)...; returns the number of sockets reached
ROUTE = (
    _NOW
    + """
local cutoff = now - tonumber(ARGV[3])
local app = ARGV[4]
local alive, out, order, reached = {}, {}, {}, 0
alive[ARGV[5]] = false
for g = 6, #ARGV, 2 do
  local per = {}
  for uid in string.gmatch(ARGV[g + 1], '[^,]+') do
    local h = redis.call('HGETALL', ARGV[1] .. app .. ':' .. uid)
    for i = 1, #h, 2 do
      local pid, n = h[i], tonumber(h[i + 1])
      if alive[pid] == nil then
        local beat = redis.call('ZSCORE', KEYS[1], pid)
        alive[pid] = beat ~= false and tonumber(beat) >= cutoff
      end
      if alive[pid] and n > 0 then
        reached = reached + n
        if per[pid] == nil then per[pid] = {} end
        table.insert(per[pid], uid)
      end
    end
  end
  for pid, users in pairs(per) do
    if out[pid] == nil then out[pid] = {app}; table.insert(order, pid) end
    table.insert(out[pid], ARGV[g])
    table.insert(out[pid], table.concat(users, ','))
  end
end
for _, pid in ipairs(order) do
  redis.call('PUBLISH', ARGV[2] .. pid, table.concat(out[pid], '\\n'))
end
return reached
"""
)

# Hashed once here, not on every call; each call runs EVALSHA (loading the script on a miss).
_HEARTBEAT, _WRITE, _REAP, _ROUTE = (
    Script(None, text.encode())  # type: ignore[arg-type]  # bytes need no client encoder
    for text in (HEARTBEAT, WRITE, REAP, ROUTE)
)


@dataclass(frozen=True)
class PresenceKeys:
    """The Redis names presence and routing use, under one installation's prefix."""

    presence_prefix: str
    processes: str
    process_prefix: str

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> PresenceKeys:
        return cls(
            presence_prefix=runtime.key("rt", "presence", ""),
            processes=runtime.key("rt", "processes"),
            process_prefix=runtime.key("rt", "process", ""),
        )

    def presence(self, app_id: str, user_id: str) -> str:
        return f"{self.presence_prefix}{app_id}:{user_id}"

    def channel(self, process_id: str) -> str:
        return f"{self.process_prefix}{process_id}"

    def held(self, process_id: str) -> str:
        return f"{self.process_prefix}{process_id}:held"


def heartbeat(redis: Redis, keys: PresenceKeys, process_id: str) -> bool:
    """Mark a process alive; True when Redis did not know it (first beat, or it was reaped)."""
    return bool(_HEARTBEAT(keys=[keys.processes], args=[process_id], client=redis))


def write_counts(
    redis: Redis, keys: PresenceKeys, *, process_id: str, counts: Mapping[tuple[str, str], int]
) -> None:
    """Set how many sockets of each (app id, user id) a process holds (0: none), in one call.

    Only the process itself writes its counts, so a whole value is always right to write.
    """
    if not counts:
        return
    presence_keys = [keys.presence(app_id, user_id) for app_id, user_id in counts]
    args = [process_id, *counts.values()]
    _WRITE(keys=[keys.held(process_id), *presence_keys], args=args, client=redis)


def reap_dead_processes(redis: Redis, keys: PresenceKeys, *, ttl: float) -> int:
    """Remove the presence of every process whose heartbeat is older than `ttl` seconds."""
    return int(_REAP(keys=[keys.processes], args=[keys.process_prefix, ttl], client=redis))


def remove_process(redis: Redis, keys: PresenceKeys, *, process_id: str) -> None:
    """Withdraw a process and all its presence at once (clean shutdown)."""
    _REAP(keys=[keys.processes], args=[keys.process_prefix, 0, process_id], client=redis)


def route(
    redis: Redis,
    keys: PresenceKeys,
    *,
    ttl: float,
    app_id: str,
    batches: Iterable[tuple[str, Sequence[str]]],
    leave_out: str = "",
) -> int:
    """Publish each (frame, user ids) batch to the processes holding those users' sockets.

    Returns the number of sockets reached: a user's every socket on every live process except
    `leave_out` (a caller that wrote to its own sockets itself), which gets nothing.
    """
    args: list[str | float] = [keys.presence_prefix, keys.process_prefix, ttl, app_id, leave_out]
    for frame, user_ids in batches:
        if user_ids:
            args.extend((frame, ",".join(user_ids)))
    if len(args) == 5:
        return 0
    return int(_ROUTE(keys=[keys.processes], args=args, client=redis))


def parse_routed(message: bytes | str) -> tuple[str, list[tuple[str, list[str]]]]:
    """Split a routed message into its app id and (frame, user ids) batches."""
    text = message.decode() if isinstance(message, bytes) else message
    lines = text.split("\n")
    app_id, rest = lines[0], lines[1:]
    batches = [(rest[i], rest[i + 1].split(",")) for i in range(0, len(rest) - 1, 2)]
    return app_id, batches
