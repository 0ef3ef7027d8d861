"""admin-cli's start-up budget (issue 29): `--help` of the program, of every group and of every
command, and shell completion, import none of the heavy libraries — they are imported inside the
commands that use them. Checked in fresh interpreters, the way a shell runs the program."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Heavy libraries (line-bot-sdk, SQLAlchemy, Pillow, zxing, aiohttp, Jinja2, argon2, Alembic …)
#: and our own service package's storage: none may load to print help or complete a word.
HEAVY = ("linebot", "sqlalchemy", "PIL", "zxingcpp", "aiohttp", "jinja2", "argon2", "alembic", "numpy",
         "openpyxl", "boto3", "botocore", "cryptography", "redis", "asyncpg", "aiosqlite", "segno", "yaml",
         "asyncio", "bot.storage", "bot.line", "bot.chat", "bot.campaigns.store", "bot.config")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("_ADMIN_CLI")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(COLUMNS="80", **extra)
    return env


def _heavy_in(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def _imported(stderr: str) -> list[str]:
    """The modules `python -X importtime` reports."""
    return [line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")][1:]


def test_root_help_imports_no_heavy_module():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "admin_cli", "--help"], env=_env(),
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "campaigns" in done.stdout and "reports" in done.stdout
    assert _heavy_in(_imported(done.stderr)) == []


#: Runs in a fresh interpreter: every command path's `--help` through the real click command tree,
#: then prints the paths it visited and the heavy modules loaded meanwhile.
_EVERY_HELP = """
import json, sys
import typer.main
from admin_cli.app import app

root = typer.main.get_command(app)
paths = []

def walk(command, path):
    paths.append(path)
    if hasattr(command, "list_commands"):
        context = typer.Context(command)
        for name in command.list_commands(context):
            walk(command.get_command(context, name), path + [name])

walk(root, [])
for path in paths:
    try:
        root.main(args=[*path, "--help"], prog_name="admin-cli", standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps({"paths": paths, "modules": sorted(sys.modules)}))
"""


def test_every_command_help_imports_no_heavy_module():
    done = subprocess.run([sys.executable, "-c", _EVERY_HELP], env=_env(), capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert ["campaigns", "create"] in report["paths"] and ["crm", "pages", "add"] in report["paths"]
    assert len(report["paths"]) > 80
    assert _heavy_in(report["modules"]) == []


def _complete(words: str) -> subprocess.CompletedProcess:
    cword = str(len(words.split(" ")) - 1)
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "admin_cli"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT,
                          env=_env(_ADMIN_CLI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword))


def test_completion_imports_no_heavy_module():
    groups = _complete("admin-cli ca")
    assert groups.returncode == 0, groups.stderr[-2000:]
    assert "campaigns" in groups.stdout.split()
    assert _heavy_in(_imported(groups.stderr)) == []
    commands = _complete("admin-cli campaigns ")
    assert {"create", "delete", "list", "pause"} <= set(commands.stdout.split())
    assert _heavy_in(_imported(commands.stderr)) == []
    options = _complete("admin-cli reports export 1 participants --")
    assert {"--format", "--output"} <= set(options.stdout.split())
    assert _heavy_in(_imported(options.stderr)) == []
