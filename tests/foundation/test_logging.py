"""Structured logs: JSON lines, pseudonymous user references, secrets redacted."""
import io
import json
import logging

from bot import log as logsetup


def test_json_lines_with_fields_and_redacted_secrets():
    stream = io.StringIO()
    logsetup.configure("INFO", secrets=["very-secret-token"], stream=stream)
    logger = logging.getLogger("test.logging")
    logger.info("calling with very-secret-token", extra={"fields": {"user": logsetup.pseudonym("U123"), "auth": "Bearer very-secret-token"}})
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["msg"] == "calling with ***"
    assert entry["auth"] == "Bearer ***"
    assert entry["user"].startswith("u_") and "U123" not in entry["user"]
    assert entry["level"] == "INFO"


def test_pseudonym_is_stable_and_distinct():
    assert logsetup.pseudonym("Uabc") == logsetup.pseudonym("Uabc")
    assert logsetup.pseudonym("Uabc") != logsetup.pseudonym("Uabd")
    assert logsetup.pseudonym(None) == "-"


async def test_pseudonyms_are_keyed_from_app_secret(tmp_path, monkeypatch):
    """Issue 25: the log reference was an unkeyed SHA-256 with a salt in the source, so anyone
    knowing a LINE ID found that user's lines. Now an HMAC under a key the service derives from
    APP_SECRET at start-up (sandbox without APP_SECRET: the DATA_DIR key)."""
    import dataclasses
    import hashlib

    from aiohttp import web

    from bot.appkeys import CONFIG
    from bot.config import Config
    from bot.privacy.service import privacy_ctx

    monkeypatch.setattr(logsetup, "_pseudonym_key", getattr(logsetup, "_pseudonym_key", None), raising=False)
    user = "U" + "4f" * 16
    unkeyed = "u_" + hashlib.sha256(b"invoice-campaigns/v1" + user.encode()).hexdigest()[:12]

    async def started(config: Config) -> str:
        app = web.Application()
        app[CONFIG] = dataclasses.replace(config, run_worker=False)
        ctx = privacy_ctx(app)
        await ctx.__anext__()
        seen = logsetup.pseudonym(user)
        await ctx.aclose()
        return seen

    secret_one = Config(data_dir=tmp_path / "one", app_secret="k" * 32)
    first = await started(secret_one)
    assert first == await started(Config(data_dir=tmp_path / "two", app_secret="k" * 32))  # every process
    assert first != await started(Config(data_dir=tmp_path / "one", app_secret="j" * 32))
    (tmp_path / "sandbox").mkdir()
    sandboxed = await started(Config(data_dir=tmp_path / "sandbox"))
    assert sandboxed == await started(Config(data_dir=tmp_path / "sandbox"))  # the DATA_DIR key, kept
    assert unkeyed not in {first, sandboxed} and first.startswith("u_") and len(first) == 14
