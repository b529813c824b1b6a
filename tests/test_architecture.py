"""The layering of docs/architecture.md holds: import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT

MAX_MODULE_LINES = 400


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


def test_every_module_is_short_enough_to_read_in_one_sitting():
    """Python modules of the code, its tests and its benchmarks stay under 400 lines; one that
    grows past that is split along a seam, not squeezed."""
    modules = [
        path
        for top in ("app", "workers", "templates_store", "migrations", "tests", "bench")
        for path in (PROJECT_ROOT / top).rglob("*.py")
    ]
    too_long = {
        str(path.relative_to(PROJECT_ROOT)): length
        for path in modules
        if (length := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }

    assert too_long == {}
