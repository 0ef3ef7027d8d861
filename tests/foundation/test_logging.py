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
