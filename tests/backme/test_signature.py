"""X-Backme-Signature: hex HMAC-SHA1 of the raw body, constant-time, header-only tolerance."""
from __future__ import annotations

import pytest

from bot.simulators import backme as sim
from flows.backme.payload import verify_signature as reexported
from flows.backme.signature import sign, verify_signature

SECRET = "1234"
BODY = b'{"transaction": {"trade_no": "REG4829201627459123"}}'


def test_sign_matches_rfc2202_hmac_sha1_vector():
    assert sign(b"what do ya want for nothing?", "Jefe") == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"


def test_good_signature_verifies():
    assert verify_signature(BODY, sign(BODY, SECRET), SECRET)


@pytest.mark.parametrize("decorate", [str.upper, lambda s: f"  {s}\n", lambda s: f"\t{s.upper()} "])
def test_header_case_and_whitespace_are_tolerated(decorate):
    assert verify_signature(BODY, decorate(sign(BODY, SECRET)), SECRET)


def test_body_is_used_byte_for_byte():
    signature = sign(BODY, SECRET)
    assert not verify_signature(BODY + b" ", signature, SECRET)
    assert not verify_signature(BODY.replace(b"REG", b"reg"), signature, SECRET)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_signature_fails(header):
    assert not verify_signature(BODY, header, SECRET)


def test_wrong_secret_fails():
    assert not verify_signature(BODY, sign(BODY, "other-secret"), SECRET)


def test_empty_secret_never_verifies():
    assert not verify_signature(BODY, sign(BODY, ""), "")


@pytest.mark.parametrize("header", ["sha1=" + "0" * 40, "z" * 40, "ab" * 19, "ab" * 21])
def test_malformed_header_fails(header):
    assert not verify_signature(BODY, header, SECRET)


def test_payload_module_reexports_the_same_check():
    assert reexported is verify_signature


def test_simulator_signs_the_bytes_it_sends():
    body = sim.single_credit_success()
    assert verify_signature(sim.encode(body), sim.sign(body, SECRET), SECRET)
    assert sim.sign(sim.encode(body), SECRET) == sim.sign(body, SECRET)
