"""The root Typer application: every command group is registered here."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="admin-cli",
    help="Run invoice-registration campaigns and the Backme → CRM route from a terminal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)



@app.callback()
def root(
    ctx: typer.Context,
    actor: str = typer.Option(None, "--as", envvar="ADMIN_CLI_USER", help="The admin user you act as."),
) -> None:
    ctx.obj = {"actor": actor}


# Command groups (one module each) register themselves below.
from admin_cli.invoice import invoice_app  # noqa: E402

app.add_typer(invoice_app, name="invoice")
from admin_cli.channels import channels_app  # noqa: E402
from admin_cli.triggers import triggers_app  # noqa: E402
from admin_cli.users import users_app  # noqa: E402

app.add_typer(users_app, name="users")
app.add_typer(channels_app, name="channels")
app.add_typer(triggers_app, name="triggers")
from admin_cli.crm import crm_app  # noqa: E402

app.add_typer(crm_app, name="crm")
from admin_cli.db import db_app  # noqa: E402

app.add_typer(db_app, name="db")
from admin_cli.campaigns import campaigns_app  # noqa: E402
from admin_cli.coupons import coupons_app  # noqa: E402
from admin_cli.jobs import jobs_app  # noqa: E402
from admin_cli.messages import messages_app  # noqa: E402
from admin_cli.reports import reports_app  # noqa: E402
from admin_cli.richmenu import richmenu_app  # noqa: E402

app.add_typer(campaigns_app, name="campaigns")
app.add_typer(messages_app, name="messages")
app.add_typer(coupons_app, name="coupons")
app.add_typer(reports_app, name="reports")
app.add_typer(jobs_app, name="jobs")
app.add_typer(richmenu_app, name="richmenu")
from admin_cli.audit import audit_command  # noqa: E402
from admin_cli.privacy import privacy_app  # noqa: E402

app.add_typer(privacy_app, name="privacy")
app.command("audit")(audit_command)
from admin_cli.photos import photos_app  # noqa: E402

app.add_typer(photos_app, name="photos")


def main() -> None:
    # One program name however it is started (`admin-cli`, `python -m admin_cli`): the usage
    # lines say admin-cli, and shell completion answers to _ADMIN_CLI_COMPLETE either way.
    app(prog_name="admin-cli")
