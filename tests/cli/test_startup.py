"""admin-cli's start-up budget (issue 29): `--help` of the program, of every group and of every
command, and shell completion, import none of the heavy libraries — they are imported inside the
commands that use them. Checked in fresh interpreters, the way a shell runs the program."""
import subprocess
import sys

from tests.cli.help_pages import ROOT, cli_env, every_help_page

#: Heavy libraries (line-bot-sdk, SQLAlchemy, Pillow, zxing, aiohttp, Jinja2, argon2, Alembic …)
#: pydantic (Typer's coercion of the groups' options) and our own service package's storage: none
#: may load to print help or complete a word.
HEAVY = ("linebot", "sqlalchemy", "PIL", "zxingcpp", "aiohttp", "jinja2", "argon2", "alembic", "numpy",
         "openpyxl", "boto3", "botocore", "cryptography", "redis", "asyncpg", "aiosqlite", "segno", "yaml", "pydantic",
         "asyncio", "bot.storage", "bot.line", "bot.chat", "bot.campaigns.store", "bot.config")


def _heavy_in(modules: list[str], allowed: tuple[str, ...] = ()) -> list[str]:
    heavy = [h for h in HEAVY if h not in allowed]
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy))


def _imported(stderr: str) -> list[str]:
    """The modules `python -X importtime` reports."""
    return [line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")][1:]


def test_root_help_imports_no_heavy_module():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "admin_cli", "--help"], env=cli_env(),
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "campaigns" in done.stdout and "reports" in done.stdout
    assert _heavy_in(_imported(done.stderr)) == []


def test_every_command_help_imports_no_heavy_module():
    pages, modules = every_help_page()
    assert {"", "campaigns", "campaigns create", "crm pages add", "reports export"} <= set(pages)
    assert len(pages) > 80 and all("Usage: admin-cli" in page for page in pages.values())
    assert _heavy_in(modules) == []


def _complete(words: str) -> subprocess.CompletedProcess:
    cword = str(len(words.split(" ")) - 1)
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "admin_cli"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT,
                          env=cli_env(_ADMIN_CLI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=cword))


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
    # the command's own typed arguments (1, participants) are coerced by Typer, through pydantic
    assert _heavy_in(_imported(options.stderr), allowed=("pydantic",)) == []
