"""The pytest plugin is found by its entry point: a user's project gets ``lro_env``
without any conftest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

USERS_TEST = """
import lro


def test_a_day_passes(lro_env):
    @lro_env.client.resumable("later")
    def later(op):
        if op.resume_point == "":
            op.wait(sleep=86_400, resume_at="tomorrow")
            return
        op.done()

    op = lro_env.client.start("later")
    lro_env.run_until_idle()
    assert not lro_env.client.get_operation(op.name).done
    lro_env.advance(86_400)
    assert lro_env.client.get_operation(op.name).done


def test_each_test_has_its_own_store(lro_env):
    assert lro_env.client.list_operations() == ([], "")
"""


def test_a_users_project_gets_the_lro_env_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_users.py").write_text(USERS_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_plugin_is_registered_as_lro(pytestconfig: pytest.Config) -> None:
    manager = pytestconfig.pluginmanager
    plugin = manager.get_plugin("lro")
    assert plugin is not None
    assert plugin.__name__ == "lro.testing.pytest_plugin"
