"""The lock files stay in step with pyproject.toml: every dependency is pinned there, with hashes,
at a version its specifier allows, and the service lock agrees with the test lock."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
HINT = "the lock is out of date: run scripts/lock and commit requirements*.txt"


def parse_lock(text: str) -> dict[str, tuple[Version, int]]:
    """`name==version ; markers \\` + `--hash=…` lines → {name: (version, number of hashes)}."""
    pins: dict[str, tuple[Version, int]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            if current is None:
                raise ValueError(f"hash without a requirement: {raw}")
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
            continue
        requirement = Requirement(line.rstrip("\\").strip())
        pinned = [s for s in requirement.specifier if s.operator == "=="]
        if len(pinned) != 1:
            raise ValueError(f"not pinned with ==: {raw}")
        current = canonicalize_name(requirement.name)
        pins[current] = (Version(pinned[0].version), 0)
    return pins


def pyproject_requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return [Requirement(r) for r in wanted]


def missing_or_stale(requirements: list[Requirement], pins: dict[str, tuple[Version, int]]) -> list[str]:
    problems = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in pins:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(pins[name][0], prereleases=True):
            problems.append(f"{requirement.name}: locked {pins[name][0]} is outside {requirement.specifier}")
    return problems


@pytest.mark.parametrize("lock, extras", [("requirements.txt", ()), ("requirements-test.txt", ("test",))])
def test_every_pyproject_dependency_is_pinned_in_the_lock_with_hashes(lock, extras):
    pins = parse_lock((ROOT / lock).read_text(encoding="utf-8"))
    assert missing_or_stale(pyproject_requirements(*extras), pins) == [], HINT
    assert all(hashes for _version, hashes in pins.values()), "every pin carries --hash lines"


def test_the_service_lock_agrees_with_the_test_lock():
    service = parse_lock((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    test = parse_lock((ROOT / "requirements-test.txt").read_text(encoding="utf-8"))
    differing = {name: (v, test.get(name, (None,))[0]) for name, (v, _h) in service.items()
                 if test.get(name, (None,))[0] != v}
    assert differing == {}, HINT


def test_the_check_notices_a_dependency_added_to_pyproject_but_not_locked():
    pins = parse_lock((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    added = [*pyproject_requirements(), Requirement("no-such-package-in-the-lock>=1"), Requirement("aiohttp>=999")]
    assert missing_or_stale(added, pins) == [
        "no-such-package-in-the-lock is not in the lock", f"aiohttp: locked {pins['aiohttp'][0]} is outside >=999"]


def test_the_lock_is_what_a_heroku_style_build_accepts():
    """Hash mode: no editable or directory lines (pip refuses to hash those); the regenerate
    command is one script, named in the lock's header."""
    for lock in ("requirements.txt", "requirements-test.txt"):
        text = (ROOT / lock).read_text(encoding="utf-8")
        assert not re.search(r"^\s*(-e|\.|file:)", text, re.MULTILINE)
        assert "scripts/lock" in text.splitlines()[1]
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
    assert (ROOT / "scripts" / "lock").stat().st_mode & 0o111
    procfile = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line)
    assert procfile == {"release": "python -m admin_cli db upgrade", "web": "python -m bot",
                        "worker": "python -m bot worker"}
