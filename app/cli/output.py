"""What every command shares: JSON on stdout, the Herald API's error envelope on stderr, and a
runtime built for the command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from sqlalchemy.orm import Session

from app.composition import Process, compose
from app.config import Settings
from app.errors import envelope, refusal
from app.families import HERALD_API
from app.refusals import InvalidRequest, Refusal
from app.runtime import Runtime
from app.wire import parse_json

# A refusal's exit status; `herald notifications watch` documents its other ones.
REFUSED = 1


def emit(payload: Any) -> None:
    """A command's answer on stdout, as indented JSON."""
    click.echo(json.dumps(payload, indent=2, default=str))


def emit_line(payload: Any) -> None:
    """One JSON document on one line of stdout (a stream of them, one per line)."""
    click.echo(json.dumps(payload, default=str))


def refusal_answer(error: Refusal) -> tuple[int, dict[str, Any]]:
    """The status and error envelope the Herald API answers this refusal with."""
    status, details = refusal(error, HERALD_API)
    return status, envelope(details)


def refuse(error: Refusal) -> NoReturn:
    """Print the refusal's error envelope on stderr and exit non-zero."""
    print_refusal(refusal_answer(error)[1])


def print_refusal(body: Mapping[str, Any]) -> NoReturn:
    click.echo(json.dumps(body, indent=2), err=True)
    sys.exit(REFUSED)


def fail(message: str, *, field: str | None = None) -> NoReturn:
    """Refuse the command's input, as the API refuses invalid input (`ERR_BAD_REQUEST`)."""
    refuse(InvalidRequest(message, field=field))


class HeraldGroup(click.Group):
    """The top-level group: a refusal raised by any command is answered with the envelope."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Refusal as error:
            refuse(error)


@contextmanager
def command_process() -> Iterator[Process]:
    """The dependencies of one command (`app.composition`), built from the environment and
    closed when it ends."""
    process = compose(Settings.from_env())
    try:
        yield process
    finally:
        process.close()


@contextmanager
def command_runtime() -> Iterator[Runtime]:
    """The resources of one command that hands no work to the workers."""
    with command_process() as process:
        yield process.runtime


@contextmanager
def transaction() -> Iterator[tuple[Runtime, Session]]:
    """A runtime and one transaction for a command: committed when it succeeds."""
    with command_runtime() as rt, rt.database.transaction() as session:
        yield rt, session


def parse_assignment(item: str, option: str) -> tuple[str, Any]:
    """NAME=VALUE, the value read as JSON when it is JSON (`true`, `3`, `["a"]`) else as text."""
    name, sep, raw = item.partition("=")
    if not sep or not name.strip():
        fail(f"{option} expects NAME=VALUE, got {item!r}.", field=option)
    try:
        return name.strip(), parse_json(raw)
    except ValueError:
        return name.strip(), raw
