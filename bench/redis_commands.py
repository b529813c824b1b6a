"""Client-side CPU per Redis command under gevent, run by hand: the cost every send pays twice.

    .venv/bin/python bench/redis_commands.py [--commands 5000] [--rounds 5]

Runs EVALSHA (as the rate limit and routing do) through redis-py as Herald calls it, and the
same command on a connection held outside the pool, and prints the CPU time per command (the
median of the rounds) with the redis-py version. Needs Redis (REDIS_URL).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # as under the Procfile's gevent worker

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402
from redis.commands.core import Script  # noqa: E402

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = "herald-bench:redis-commands"


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_command_us(command: Callable[[], Any], count: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        for _ in range(count // 10):
            command()  # warm
        started = cpu_s()
        for _ in range(count):
            command()
        samples.append((cpu_s() - started) / count * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = redis.Redis.from_url(REDIS_URL, health_check_interval=30)  # as app.runtime does
    script = Script(None, b"return redis.call('INCR', KEYS[1])")  # type: ignore[arg-type]
    sha = client.script_load(script.script)
    held = client.connection_pool.get_connection()

    def on_held_connection() -> Any:
        held.send_command("EVALSHA", sha, 1, KEY, 1)
        return held.read_response()

    try:
        through_client = per_command_us(
            lambda: script(keys=[KEY], args=[1], client=client), args.commands, args.rounds
        )
        held_only = per_command_us(on_held_connection, args.commands, args.rounds)
    finally:
        client.connection_pool.release(held)
        client.delete(KEY)
    print(f"redis-py {redis.__version__}: EVALSHA through the client {through_client:.0f} us CPU,")
    print(f"  on a held connection (protocol and socket only) {held_only:.0f} us CPU")


if __name__ == "__main__":
    main()
