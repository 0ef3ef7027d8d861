"""The root Typer application: every command group is registered here."""
from __future__ import annotations

import typer
import typer.main

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
from admin_cli.review import review_app  # noqa: E402

app.add_typer(review_app, name="review")


def command() -> typer.main.TyperGroup:
    """The click command `admin-cli` runs. Typer coerces every parameter it processes through a
    pydantic TypeAdapter, importing pydantic (~0.1 s); the groups' own options (`--as`, `--help`,
    the completion flags) are processed on every run, also for a subcommand's `--help` or a
    completion. Their values are `str` or `bool` already, so they get Typer's own pass-through
    coercion instead (the same values, no pydantic); the commands' options keep Typer's. If
    this Typer lacks that hook, nothing changes but the time."""
    root = typer.main.get_command(app)
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # pragma: no cover - another Typer
        return root
    groups = [root]
    while groups:
        group = groups.pop()
        groups.extend(c for c in getattr(group, "commands", {}).values() if hasattr(c, "commands"))
        help_option = group.get_help_option(typer.Context(group))  # made once and kept by the group
        for param in [*group.params, *([help_option] if help_option is not None else [])]:
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is not None and descriptor.annotation in (str, bool) \
                    and getattr(param, "_runtime_param", False) is None:
                param._runtime_param = PassThroughRuntimeParam(annotation=descriptor.annotation,
                                                               parameter_info=descriptor.parameter_info)
    return root


def main() -> None:
    # One program name however it is started (`admin-cli`, `python -m admin_cli`): the usage
    # lines say admin-cli, and shell completion answers to _ADMIN_CLI_COMPLETE either way.
    command()(prog_name="admin-cli")
