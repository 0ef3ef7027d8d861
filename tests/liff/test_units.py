"""Unit tests of the LIFF pages' building blocks: code sealing, rate limits, form rules,
request bodies, the verified-token cache and the client address."""
from __future__ import annotations

import base64
import datetime as dt

import pytest

from bot.config import Config
from flows.campaigns.settings import IssueDateWindow
from liff_pages import forms
from liff_pages.limits import RateLimiter
from liff_pages.sealing import CodeSealer, SealError, carrier_aad, derive_key

D = dt.date
WINDOW = IssueDateWindow(D(2024, 1, 1), D(2024, 3, 31))
TODAY = D(2024, 2, 10)


def test_sealed_codes_open_only_with_the_same_key_and_row(tmp_path) -> None:
    sealer = CodeSealer(derive_key(b"app-secret-one-0123456789abcdef"))
    aad = carrier_aad(1, 2, "/ABC+123")
    first, second = sealer.seal("Secret-42", aad), sealer.seal("Secret-42", aad)
    assert first != second  # a fresh nonce each time
    assert "Secret-42" not in first and b"Secret-42" not in base64.urlsafe_b64decode(first)
    assert sealer.open(first, aad) == "Secret-42"
    with pytest.raises(SealError):
        sealer.open(first, carrier_aad(1, 3, "/ABC+123"))  # another customer's row
    with pytest.raises(SealError):
        CodeSealer(derive_key(b"another-secret-0123456789abcdef")).open(first, aad)
    raw = bytearray(base64.urlsafe_b64decode(first))
    raw[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(base64.urlsafe_b64encode(bytes(raw)).decode(), aad)
    with pytest.raises(SealError):
        sealer.open("not a sealed code", aad)
    assert "Secret" not in repr(sealer)


def test_the_key_comes_from_app_secret_else_the_data_dir_key(tmp_path) -> None:
    aad = carrier_aad(1, 1, "/ABC+123")
    with_secret = CodeSealer.for_config(Config(app_secret="s" * 32, data_dir=tmp_path / "a"))
    same_secret = CodeSealer.for_config(Config(app_secret="s" * 32, data_dir=tmp_path / "b"))
    assert same_secret.open(with_secret.seal("x1", aad), aad) == "x1"
    sandbox = CodeSealer.for_config(Config(data_dir=tmp_path / "c"))
    with pytest.raises(SealError):
        sandbox.open(with_secret.seal("x1", aad), aad)
    assert CodeSealer.for_config(Config(data_dir=tmp_path / "c")).open(sandbox.seal("x2", aad), aad) == "x2"
    assert derive_key(b"a") != derive_key(b"b") and len(derive_key(b"a")) == 32


def test_rate_limiter_window_slides_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 60.0, clock=lambda: now[0])
    assert [limiter.allow("u1") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("u2")  # budgets are per user
    assert limiter.retry_after("u1") == pytest.approx(60.0)
    now[0] = 30.0
    assert not limiter.allow("u1")
    now[0] = 60.01
    assert limiter.allow("u1") and limiter.retry_after("u2") == 0.0
    with pytest.raises(ValueError):
        RateLimiter(0, 1.0)


def test_rate_limiter_forgets_idle_users_when_full() -> None:
    now = [0.0]
    limiter = RateLimiter(1, 10.0, clock=lambda: now[0], max_keys=2)
    limiter.allow("a"), limiter.allow("b")
    now[0] = 11.0
    assert limiter.allow("c") and set(limiter._calls) == {"c"}


def test_manual_form_names_every_wrong_field_and_normalises_the_rest() -> None:
    code, phone, errors = forms.check_manual({"invoice_number": " ab-12345678 ", "date": "2024-1-5",
                                              "random_code": "0042", "total_amount": "120",
                                              "phone": "+886 912-345-678", "consent": True},
                                             today=TODAY, window=WINDOW)
    assert errors == {} and phone == "886912345678"  # E.164 digits: the seed's export form
    assert (code.invoice_number, code.date.isoformat(), code.total_amount) == ("AB12345678", "2024-01-05", 120)
    _, _, errors = forms.check_manual({"invoice_number": "AB1234567", "date": "tomorrow", "random_code": "1234",
                                       "total_amount": "-1", "phone": "12345"}, today=TODAY, window=WINDOW)
    assert set(errors) == {"invoice_number", "date", "total_amount", "phone"}
    _, _, errors = forms.check_manual({"invoice_number": "AB12345678", "date": "2024-01-05", "random_code": "1234",
                                       "total_amount": "1", "phone": "0912345678", "consent": "yes"},
                                      today=TODAY, window=WINDOW)
    assert set(errors) == {"consent"}  # only a real checkbox `true` is consent


def test_manual_total_amount_is_optional_but_checked_when_given() -> None:
    """SPEC §1: manual entry's total amount is optional (issue 28, item 5)."""
    fields = {"invoice_number": "AB12345678", "date": "2024-01-05", "random_code": "1234"}
    for blank in ({}, {"total_amount": ""}, {"total_amount": "  "}, {"total_amount": None}):
        code, _, errors = forms.check_manual({**fields, **blank}, today=TODAY, window=WINDOW)
        assert errors == {} and code is not None and code.total_amount is None, blank
    _, _, errors = forms.check_manual({**fields, "total_amount": "1.5"}, today=TODAY, window=WINDOW)
    assert set(errors) == {"total_amount"}


def test_carrier_form_rules() -> None:
    card, phone, errors = forms.check_carrier({"carrier_barcode": "/abc+123", "verification_code": "Ab12"})
    assert errors == {} and card.barcode == "/ABC+123" and phone is None
    _, _, errors = forms.check_carrier({"carrier_barcode": "ABC1234", "verification_code": " x"})
    assert set(errors) == {"carrier_barcode", "verification_code"}
    _, _, errors = forms.check_carrier({"carrier_barcode": "/ABC+123", "verification_code": "x" * 33})
    assert set(errors) == {"verification_code"}


def test_the_carrier_form_takes_the_same_optional_phone_with_consent() -> None:
    """Issue 28, item 6: the carrier page offers the manual page's phone, with the same rules."""
    carrier = {"carrier_barcode": "/ABC+123", "verification_code": "Ab12"}
    card, phone, errors = forms.check_carrier({**carrier, "phone": "０９１２－３４５－６７８", "consent": True})
    assert errors == {} and card is not None and phone == "886912345678"
    for blank in ("", "  ", None):
        assert forms.check_carrier({**carrier, "phone": blank})[1:] == (None, {})
    card, _, errors = forms.check_carrier({**carrier, "phone": "0912345678", "consent": "true"})
    assert card is None and errors == {"consent": forms.MESSAGES["consent"]}
    card, _, errors = forms.check_carrier({**carrier, "phone": "02-2345-6789", "consent": True})
    assert card is None and errors == {"phone": forms.MESSAGES["phone"]}
    _, _, errors = forms.check_carrier({"carrier_barcode": "x", "verification_code": "Ab12", "phone": "12"})
    assert set(errors) == {"carrier_barcode", "phone"}  # every wrong field at once


def test_issue_dates_after_today_or_outside_the_window_are_named_on_the_date_field() -> None:
    fields = {"invoice_number": "AB12345678", "random_code": "1234", "total_amount": "100"}
    for day in ("2024-02-11", "2099-01-01"):  # tomorrow (Taipei), far away
        code, _, errors = forms.check_manual({**fields, "date": day}, today=TODAY, window=WINDOW)
        assert code is None and errors == {"date": "開立日期：不可晚於今天"}
    for day in ("2023-12-31", "2024-04-01"):  # just outside the window (the later one with today after it)
        code, _, errors = forms.check_manual({**fields, "date": day}, today=D(2024, 5, 1), window=WINDOW)
        assert code is None and errors == {"date": "開立日期：本活動限 2024-01-01 ～ 2024-03-31 開立的發票"}
    code, _, errors = forms.check_manual({**fields, "date": "2024-02-10"}, today=TODAY, window=WINDOW)
    assert errors == {} and code.date == TODAY  # today itself is fine


@pytest.mark.parametrize("raw,reason", [
    (b"[" * 1500 + b"]" * 1500, "nested too deeply"),
    (b'{"fields": ' + b"[" * 1490 + b"]" * 1490 + b"}", "nested too deeply"),
    (b'{"a": {"b": {"c": {"d": {}}}}}', "nested too deeply"),
    (b'{"liff_id": "\xff\xfe"}', "not UTF-8"),
    (b'{"liff_id": "\\ud800"}', "a text is not valid Unicode"),
    (b'{"liff_id": "a\\u0000b"}', "a text holds a NUL character"),
    (b'{"campaign": NaN}', "NaN is not JSON"),
    (b'{"campaign": 1e999}', "a number is too large"),
    (b'{"campaign": 1' + b"0" * 30 + b"}", "a number is too large"),
    (b'["liff_id"]', "not a JSON object"),
    (b'{"liff_id": ', "not JSON"),
])
def test_bodies_that_are_not_a_small_json_object_are_named(raw: bytes, reason: str) -> None:
    from liff_pages.bodies import BodyError, parse_body

    with pytest.raises(BodyError) as refused:
        parse_body(raw)
    assert str(refused.value) == reason


def test_a_small_json_object_is_read() -> None:
    from liff_pages.bodies import parse_body

    assert parse_body(b"") == {}
    assert parse_body('{"liff_id": "1234-Ab", "fields": {"date": "2024-01-01", "consent": true, "n": 120}}'
                      .encode()) == {"liff_id": "1234-Ab", "fields": {"date": "2024-01-01", "consent": True, "n": 120}}


def _claims(**changes):  # noqa: ANN003, ANN202
    from bot.line.messaging import IdTokenClaims

    values = {"sub": "U" + "a1" * 16, "aud": "1234567890", "exp": 2_000, "iat": 1_000,
              "iss": "https://access.line.me", "name": "林小姐"}
    return IdTokenClaims(**{**values, **changes})


@pytest.mark.parametrize("changes", [
    {"exp": 1_500}, {"exp": 1_499}, {"iss": "https://evil.example"}, {"aud": "999"},
    {"sub": "U" + "a" * 500}, {"sub": "U" + "A1" * 16}, {"sub": ""},
])
def test_claims_are_checked_here_too(changes) -> None:  # noqa: ANN001
    from bot.line.messaging import InvalidIdToken
    from liff_pages.tokens import checked_claims

    assert checked_claims(_claims(), client_id="1234567890", now=1_500).sub == "U" + "a1" * 16
    with pytest.raises(InvalidIdToken):
        checked_claims(_claims(**changes), client_id="1234567890", now=1_500)
    assert checked_claims(_claims(name="x" * 201), client_id="1234567890", now=1_500).name is None


async def test_verified_tokens_are_kept_by_hash_until_their_exp_and_429_pauses_new_ones() -> None:
    from bot.line.messaging import Transient
    from liff_pages.tokens import VerifiedTokens, VerifyPaused

    wall, mono, asked = [1_000.0], [0.0], []
    answers = {"t1": _claims(), "t2": _claims(sub="U" + "b2" * 16)}

    async def verify(token: str, client_id: str):  # noqa: ANN202 - stands for LINE's verify
        asked.append(token)
        if token == "busy":
            raise Transient("verify: LINE answered 429", status=429, retry_after=20.0)
        return answers[token]

    tokens = VerifiedTokens(wall=lambda: wall[0], monotonic=lambda: mono[0], max_entries=2)
    assert (await tokens.verify("t1", "1234567890", verify)).sub == "U" + "a1" * 16
    assert (await tokens.verify("t1", "1234567890", verify)).sub == "U" + "a1" * 16
    assert asked == ["t1"] and tokens.known("t1") and "t1" not in repr(vars(tokens))
    with pytest.raises(VerifyPaused) as paused:
        await tokens.verify("busy", "1234567890", verify)
    assert paused.value.retry_after == 20.0 and tokens.paused_for() == 20.0
    with pytest.raises(VerifyPaused):
        await tokens.verify("t2", "1234567890", verify)  # not asked while LINE's Retry-After runs
    assert asked == ["t1", "busy"]
    assert (await tokens.verify("t1", "1234567890", verify)).aud == "1234567890"  # a known token still works
    mono[0] = 20.0
    assert (await tokens.verify("t2", "1234567890", verify)).sub == "U" + "b2" * 16
    wall[0] = 2_000.0  # t1's exp
    assert not tokens.known("t1")
    with pytest.raises(Exception, match="exp"):
        await tokens.verify("t1", "1234567890", verify)  # asked again; LINE's (stale) answer is expired
    assert asked == ["t1", "busy", "t2", "t1"]


def test_trusted_proxy_hops_default_to_herokus_router_and_are_bounded() -> None:
    from bot.config import ConfigError

    assert Config.from_env({}).trusted_proxy_hops == 0  # the TCP peer
    heroku = {"DYNO": "web.1", "SANDBOX": "1"}  # (DYNO alone is a production sign: sandbox on purpose)
    assert Config.from_env(heroku).trusted_proxy_hops == 1  # Heroku's router appends the client
    assert Config.from_env({**heroku, "TRUSTED_PROXY_HOPS": "0"}).trusted_proxy_hops == 0
    assert Config.from_env({"TRUSTED_PROXY_HOPS": "2"}).trusted_proxy_hops == 2
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"TRUSTED_PROXY_HOPS": "-1"})
    assert refused.value.variable == "TRUSTED_PROXY_HOPS"
