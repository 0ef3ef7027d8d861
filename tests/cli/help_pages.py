"""Every `admin-cli … --help` page, printed in a fresh interpreter through the real command tree,
with the modules that printing them loaded (for the start-up budget and the 80-column tests)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = """
import contextlib, io, json, sys
import typer
from admin_cli.app import command

root = command()
paths = []

def walk(command, path):
    paths.append(path)
    if hasattr(command, "list_commands"):
        context = typer.Context(command)
        for name in command.list_commands(context):
            walk(command.get_command(context, name), path + [name])

walk(root, [])
pages = {}
for path in paths:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            root.main(args=[*path, "--help"], prog_name="admin-cli", standalone_mode=False)
        except SystemExit:
            pass
    pages[" ".join(path)] = out.getvalue()
print(json.dumps({"pages": pages, "modules": sorted(sys.modules)}))
"""


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a shell in an 80-column terminal, with this checkout first on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("_ADMIN_CLI")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(COLUMNS="80", TERMINAL_WIDTH="80", **extra)
    return env


def every_help_page() -> tuple[dict[str, str], list[str]]:
    """{"campaigns create": its help text, …} (the program's own under ""), and sys.modules after."""
    done = subprocess.run([sys.executable, "-c", _SCRIPT], env=cli_env(), capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["pages"], report["modules"]
