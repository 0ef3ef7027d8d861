"""The README's marketer walkthrough, run verbatim: its first fenced block is read from README.md
and run by bash, command after command, in a fresh "clone" (a temp directory with `docs/examples` and
a `.venv` made by the test from the running interpreter's environment, this checkout's code first, so
it runs from any venv, tox or IDE) with a fresh SQLite database and no admin-cli on PATH until the
block activates the venv. So the README and this test cannot drift apart."""
import csv
import datetime as dt
import json
import os
import re
import shutil
import site
import subprocess
import sysconfig
import venv
import zipfile
from pathlib import Path

import yaml
from rich.cells import cell_len

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARK = "@@walkthrough-exit"


def walkthrough_block() -> str:
    section = README.read_text(encoding="utf-8").split("## Marketer walkthrough", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, "README: the marketer walkthrough has no ```sh block"
    return found.group(1)


def commands(block: str) -> list[str]:
    """The block's commands: comment-only and blank lines dropped, `\\` continuations joined."""
    out, current = [], ""
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current = f"{current}\n{line}" if current else line
        if not line.endswith("\\"):
            out.append(current)
            current = ""
    assert not current, "README: a walkthrough command ends with a dangling backslash"
    return out


def expected_exit(command: str) -> int:
    """0, or the status its comment announces (`# exits 1: …`)."""
    said = re.search(r"#\s*exits (\d+)", command)
    return int(said.group(1)) if said else 0


def running_environment_venv(target: Path) -> Path:
    """What step 1 of the README leaves (`.venv` with this checkout installed and `admin-cli` in
    `bin/`), built from the interpreter running the tests instead of a network install: a venv of
    the same base Python whose site-packages reads this checkout first, then the running
    environment's site-packages (its own `.pth` files included)."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(target)
    python = target / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    running = [p for p in dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("purelib")]) if Path(p).is_dir()]
    Path(purelib, "00_checkout.pth").write_text(f"{ROOT}\n", encoding="utf-8")
    Path(purelib, "zz_running_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in running), encoding="utf-8")
    script = target / "bin" / "admin-cli"
    script.write_text(f"#!{python}\nimport sys\nfrom admin_cli.app import main\nsys.exit(main())\n", encoding="utf-8")
    script.chmod(0o755)
    return python


def fresh_clone(where: Path) -> Path:
    """What `git clone` + step 1 of the README leave: a venv with this checkout and the example
    files. When today is past the examples' window (they are dated), the copies are moved to cover it."""
    clone = where / "clone"
    (clone / "docs").mkdir(parents=True)
    running_environment_venv(clone / ".venv")
    shutil.copytree(ROOT / "docs" / "examples", clone / "docs" / "examples")
    today = dt.date.today()
    for file in (clone / "docs" / "examples").glob("*.yaml"):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        if dt.date.fromisoformat(str(data["end_at"])[:10]) < today + dt.timedelta(days=2):
            data.update(start_at=f"{today - dt.timedelta(days=1)}T00:00", end_at=f"{today + dt.timedelta(days=60)}T23:59")
            data["conditions"]["issue_dates"] = {"start": str(today.replace(day=1)),
                                                 "end": str(today + dt.timedelta(days=60))}
            file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return clone


def run_walkthrough(clone: Path, steps: list[str]) -> list[tuple[str, int, str]]:
    script = ["exec 2>&1"]
    for step in steps:
        script += [step, f'printf "\\n{MARK} %d\\n" "$?"']
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TEST_BACKENDS")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                  if p and not (Path(p) / "admin-cli").exists())
    env["COLUMNS"] = "80"
    done = subprocess.run(["bash", "--noprofile", "--norc", "-c", "\n".join(script)], cwd=clone, env=env,
                          capture_output=True, text=True, timeout=1500)
    chunks = re.split(rf"\n{MARK} (\d+)\n", "\n" + done.stdout)
    assert len(chunks) == 2 * len(steps) + 1, done.stdout + done.stderr
    return [(steps[i], int(chunks[2 * i + 1]), chunks[2 * i]) for i in range(len(steps))]


def test_readme_walkthrough_runs_as_written(tmp_path):
    steps = commands(walkthrough_block())
    assert steps[0].startswith(". .venv/bin/activate"), "the walkthrough must put admin-cli on PATH first"
    assert any("docs/examples/" in s for s in steps)
    clone = fresh_clone(tmp_path)
    imported = subprocess.run([clone / ".venv" / "bin" / "python", "-c", "import admin_cli, bot; print(admin_cli.__file__)"],
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert imported.returncode == 0 and Path(imported.stdout.strip()).is_relative_to(ROOT), imported

    results = run_walkthrough(clone, steps)
    for command, code, output in results:
        assert code == expected_exit(command), f"{command!r} exited {code}:\n{output}"
        if code == 0:
            assert "Traceback" not in output, output
    said = {command.split("#")[0].strip(): output for command, _, output in results}

    assert "created campaign 1" in said["admin-cli campaigns create -f docs/examples/whole-invoice-amount-tiers.yaml"]
    assert "created campaign 2" in said["admin-cli campaigns create -f docs/examples/list-only.yaml"]
    assert "imported 3 codes" in said["admin-cli coupons import 1 codes.csv"]
    stats = said["admin-cli reports stats 1 --png uploads-per-day.png"]
    assert "上傳發票數" in stats and "每日上傳發票數（依狀態）" in stats
    assert (clone / "uploads-per-day.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (clone / "keyword-qr.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with (clone / "參加名單.csv").open(encoding="utf-8-sig") as f:
        assert next(csv.reader(f))[:2] == ["姓名", "LINE UID"]
    assert zipfile.is_zipfile(clone / "發票明細.xlsx")
    listed = json.loads(said["admin-cli campaigns list --json"])
    assert [(c["id"], c["status"]) for c in listed] == [(1, "running")]
    assert "no 通過 invoices" in results[-1][2]
    assert (clone / "walkthrough.db").is_file()
    for command, _, output in results:  # every table fits 80 columns
        if "┃" in output:
            widths = {cell_len(line) for line in output.splitlines() if line.startswith(("┏", "┗", "└", "┡"))}
            assert widths and max(widths) <= 80, (command, output)
