"""The layering of docs/architecture.md holds: import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT


def test_every_import_contract_is_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"

    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_importing_herald_builds_nothing(tmp_path: Path):
    """Only the composition root builds: importing the workers, their actors and the entry
    points reads no setting (which would make the instance directory's secret key) and leaves
    Dramatiq's global broker unset."""
    modules = "workers, workers.actors, workers.delivery, workers.imports, workers.reconciler"
    code = (
        f"import dramatiq.broker, app, app.composition, app.factory, app.cli, {modules}\n"
        "assert dramatiq.broker.global_broker is None\n"
    )
    environment = {"HERALD_INSTANCE_DIR": str(tmp_path / "instance"), "PATH": os.defpath}

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "instance").exists()
