"""Errors the template store raises. The HTTP layer maps them to the common envelope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str | None = None


class TemplateStoreError(Exception):
    """Base class: carries an HTTP-like status, a stable code and one or more problems."""

    status = 400
    code = "ERR_BAD_REQUEST"

    def __init__(
        self, message: str = "", *, field: str | None = None, problems: Iterable[Problem] = ()
    ) -> None:
        super().__init__(message)
        self.details = list(problems) or [Problem(self.code, message or self.code, field)]
