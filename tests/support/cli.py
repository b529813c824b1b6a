"""The `herald` command run in the test process (click's CliRunner) as a user would run it:
its JSON answer on stdout, or a refusal's error envelope on stderr."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner, Result

from app.cli import main


@dataclass
class Herald:
    runner: CliRunner

    def __call__(self, *args: str, ok: bool = True) -> Any:
        """The command's JSON answer; with ok=False, its result once it has failed."""
        result = self.run(*args)
        assert (result.exit_code == 0) is ok, result.output + str(result.exception)
        return json.loads(result.stdout) if ok else result

    def run(self, *args: str) -> Result:
        """The command's result, whatever its exit status."""
        result = self.runner.invoke(main, list(args))
        # A crash would exit 1 too: only a command's own exit is an answer.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.output,
            result.exc_info,
        )
        return result

    def refusal(self, *args: str) -> dict[str, Any]:
        """The error envelope of a refused command: on stderr, exit status 1, nothing on stdout."""
        result = self.run(*args)
        assert (result.exit_code, result.stdout) == (1, ""), result.output
        return json.loads(result.stderr)
