"""The root Typer application: every command group is registered here."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="admin-cli",
    help="Run invoice-registration campaigns and the Backme → CRM route from a terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command groups (one module each) register themselves below.
from admin_cli.db import db_app  # noqa: E402

app.add_typer(db_app, name="db")


def main() -> None:
    app()
