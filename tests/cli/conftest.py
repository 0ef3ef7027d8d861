"""Run `admin-cli` through its real Typer app against a migrated database of each backend."""
import pytest
from typer.testing import CliRunner

from admin_cli.app import app


@pytest.fixture
def cli(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "80")  # tables must fit a plain 80-column terminal
    for var in ("LINE_CHANNEL_SECRET", "LINE_CHANNEL_ACCESS_TOKEN", "ADMIN_CLI_USER", "PUBLIC_BASE_URL", "APP_SECRET"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def run(*args, input=None, env=None):
        return runner.invoke(app, list(args), input=input, env=env)

    return run
