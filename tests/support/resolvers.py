"""A resolver with scripted answers, for tests of what user-supplied URLs may lead to."""

from __future__ import annotations

import socket


class StubResolver:
    """Answers from `answers` (name -> addresses, changeable mid-test); other names do not
    resolve. Every question is recorded in `asked`."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])
