"""The README stands alone in a clone (every link resolves inside the repository) and its two
commands are the ones CI runs and the deployment rehearsal builds with."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _commands() -> list[str]:
    block = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("python3 -m venv")]


def test_every_readme_link_resolves_inside_the_repository():
    text = ROOT.joinpath("README.md").read_text(encoding="utf-8")
    targets = LINK.findall(text)
    assert targets, "the README links its docs"
    for target in targets:
        assert not re.match(r"[a-z]+:", target) and not target.startswith(("/", "..")), target
        assert (ROOT / target.split("#", 1)[0]).is_file(), target
    assert "shared/" not in text


def test_deploy_guide_links_resolve_and_it_names_every_procfile_process():
    text = ROOT.joinpath("docs", "deploy.md").read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if not target.startswith("https://"):
            assert (ROOT / "docs" / target.split("#", 1)[0]).is_file(), target
    for line in ROOT.joinpath("Procfile").read_text().splitlines():
        assert line in text


def test_the_readme_commands_install_from_the_lock_and_ci_runs_the_second():
    serve, test = _commands()
    assert serve == ("python3 -m venv .venv && .venv/bin/pip install --require-hashes -r requirements.txt"
                     " && .venv/bin/pip install --no-deps -e . && .venv/bin/python -m bot")
    assert test == ("python3 -m venv .venv && .venv/bin/pip install --require-hashes -r requirements-test.txt"
                    " && .venv/bin/pip install --no-deps -e . && .venv/bin/python -m pytest")
    ci = ROOT.joinpath(".ci", "run").read_text()
    assert test.replace("pip install ", "pip install -q ") in ci
    assert 'if [ "$status" -eq 5 ]' in ci and "exit 1" in ci  # no tests collected is a failure
    assert test.rsplit(" && ", 1)[0] in ROOT.joinpath("docs", "deploy.md").read_text(encoding="utf-8")


def test_the_readme_and_the_deploy_guide_give_the_liff_endpoint_the_code_serves():
    """Issue 28, item 11: one LIFF endpoint URL in both documents, and it is a route of the pages."""
    from aiohttp import web

    from liff_pages.pages import setup_pages

    found = set()
    for doc in ("README.md", "docs/deploy.md"):
        text = ROOT.joinpath(doc).read_text(encoding="utf-8")
        urls = re.findall(r"(?:PUBLIC_BASE_URL|https://<your app>)(/liff/[^`\s]*)`", text)
        assert urls, f"{doc} names the LIFF endpoint URL"
        found.update(urls)
    assert found == {"/liff/"}, found
    app = web.Application()
    setup_pages(app)
    assert "/liff/" in {resource.canonical for resource in app.router.resources()}


def test_the_docs_name_the_stats_fields_the_puller_reads():
    """Issue 28, item 11: no stale Backme field names in the decisions."""
    text = ROOT.joinpath("docs", "decisions.md").read_text(encoding="utf-8")
    assert "backers_count" not in text and "goal_money" not in text
    assert "`money_pledged`" in text and "`backer_count`" in text
