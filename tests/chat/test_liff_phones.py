"""Issue 28, items 6–7, through the real LIFF endpoints (ID tokens verified by the LINE
simulator, MOF simulator behind the carrier import): both pages take the optional phone with
consent, store it in E.164 digits with the campaign it was given for, don't ask for it again in
that campaign, and a campaign's exports show only the phones given for it."""
from __future__ import annotations

import csv
import datetime as dt
import io

from sqlalchemy import select

from bot.campaigns.exports import export_items, export_participants
from bot.campaigns.store import Actor, CampaignStore
from bot.storage.models import AdminUser, CampaignPhone, Channel, Customer
from flows.campaigns.roles import Role
from tests.chat.conftest import LIFF_ID, Stack, campaign_settings, invoice_code
from tests.chat.test_liff_entries import _carrier_seed, _login_ready, _manual, _post

USER = "U" + "c3" * 16
OTHER = "U" + "d4" * 16


async def _second_campaign(stack: Stack) -> int:
    """Another published campaign of the same channel (its own rules, its own consent)."""
    async with stack.db.session() as s, s.begin():
        channel_id = await s.scalar(select(Channel.id).where(Channel.name == "default"))
        admin = AdminUser(name="mia", role=Role.MARKETER.value)
        s.add(admin)
        await s.flush()
        actor = Actor(admin.id, admin.name, Role.MARKETER)
    store, now = CampaignStore(stack.db), dt.datetime.now(dt.timezone.utc)
    view = await store.create(actor, campaign_settings(channel_id), now)
    await store.publish(actor, view.id, now)
    return view.id


async def _phone_asked(stack: Stack, campaign_id: int, token: str) -> bool:
    status, answer = await _post(stack, "campaign", {"liff_id": LIFF_ID, "campaign": str(campaign_id)}, token)
    assert status == 200, answer
    return not answer["phone_given"]


async def _phones(stack: Stack) -> list[tuple[int, str, str]]:
    async with stack.db.session() as s:
        rows = (await s.execute(select(CampaignPhone.campaign_id, Customer.line_user_id, CampaignPhone.phone)
                                .join(Customer, Customer.id == CampaignPhone.customer_id)
                                .order_by(CampaignPhone.id))).all()
    return [tuple(r) for r in rows]


async def _exported_phones(stack: Stack, campaign_id: int) -> dict[str, set[str]]:
    """電話 of each export of the campaign, by LINE UID."""
    found: dict[str, set[str]] = {}
    async with stack.db.session() as s:
        for export in (export_participants, export_items):
            out = io.BytesIO()
            await export(s, campaign_id, out, actor=Actor(None, "客服", Role.SUPPORT_AGENT))
            for row in csv.DictReader(io.StringIO(out.getvalue().decode("utf-8-sig"))):
                found.setdefault(row["LINE UID"], set()).add(row["電話"])
    return found


def _carrier_body(campaign_id: int, **fields: object) -> dict[str, object]:
    return {"liff_id": LIFF_ID, "campaign": str(campaign_id),
            "fields": {"carrier_barcode": "/abc+123", "verification_code": "Secret-42", **fields}}


async def _seed_carrier(stack: Stack, *numbers: str) -> None:
    yesterday = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date() - dt.timedelta(days=1)
    async with stack.mof_client.post("/_sim/invoices", json=_carrier_seed(yesterday, list(numbers))) as r:
        assert r.status == 200


async def test_the_carrier_page_takes_the_phone_with_consent_and_neither_page_asks_again(make_stack) -> None:
    stack = await make_stack()
    await _login_ready(stack)
    other_campaign = await _second_campaign(stack)
    await _seed_carrier(stack, "CP00000001")
    token = stack.sim.issue_id_token(USER)
    assert await _phone_asked(stack, stack.campaign_id, token)

    # A number without the consent ticked: the field is named, nothing is imported or kept.
    status, answer = await _post(stack, "carrier", _carrier_body(stack.campaign_id, phone="0912-345-678"), token)
    assert status == 422 and answer["errors"] == {"consent": "留下手機號碼前，請勾選同意活動辦法"}
    status, answer = await _post(stack, "validate", {**_carrier_body(stack.campaign_id, phone="02-2345-6789",
                                                                      consent=True), "form": "carrier"}, token)
    assert status == 200 and set(answer["errors"]) == {"phone"}
    assert await stack.uploads() == [] and await _phones(stack) == []

    status, answer = await _post(stack, "carrier", _carrier_body(stack.campaign_id, phone="+886 912 345 678",
                                                                 consent=True), token)
    assert status == 200 and answer["counts"]["new"] == 1, answer
    assert await _phones(stack) == [(stack.campaign_id, USER, "886912345678")]
    # Given once for this campaign: neither page asks again (one init endpoint for both) …
    assert not await _phone_asked(stack, stack.campaign_id, token)
    # … while another campaign, with its own rules, asks again, and so does the campaign for another user.
    assert await _phone_asked(stack, other_campaign, token)
    assert await _phone_asked(stack, stack.campaign_id, stack.sim.issue_id_token(OTHER))
    assert await _exported_phones(stack, stack.campaign_id) == {USER: {"886912345678"}}


async def test_a_refused_carrier_keeps_no_phone(make_stack) -> None:
    stack = await make_stack()
    await _login_ready(stack)
    await _seed_carrier(stack, "CP00000002")
    token = stack.sim.issue_id_token(USER)
    status, answer = await _post(stack, "carrier", _carrier_body(stack.campaign_id, verification_code="wrong",
                                                                 phone="0912345678", consent=True), token)
    assert status == 422 and set(answer["errors"]) == {"verification_code"}
    assert await _phones(stack) == []
    assert await _phone_asked(stack, stack.campaign_id, token)


async def test_a_phone_is_kept_with_the_campaign_it_was_given_for(make_stack) -> None:
    """Item 7: a phone given under one campaign's rules is not in another campaign's exports."""
    stack = await make_stack()
    await _login_ready(stack)
    other_campaign = await _second_campaign(stack)
    first, second, third = invoice_code(41), invoice_code(42), invoice_code(43)
    for code in (first, second, third):
        await stack.seed_mof(code)
    token = stack.sim.issue_id_token(USER)
    status, answer = await _post(stack, "manual", _manual(stack, first, phone="０９１２－３４５－６７８", consent=True),
                                 token)
    assert status == 200, answer
    status, answer = await _post(stack, "manual", {**_manual(stack, second), "campaign": str(other_campaign)}, token)
    assert status == 200, answer
    assert await _exported_phones(stack, stack.campaign_id) == {USER: {"886912345678"}}  # the seed's form
    assert await _exported_phones(stack, other_campaign) == {USER: {""}}
    assert not await _phone_asked(stack, stack.campaign_id, token) and await _phone_asked(stack, other_campaign, token)
    # The other campaign gets its own number, with its own consent; the first keeps its own.
    status, answer = await _post(stack, "manual", {**_manual(stack, third, phone="0955-666-666", consent=True),
                                                   "campaign": str(other_campaign)}, token)
    assert status == 200, answer
    assert await _exported_phones(stack, stack.campaign_id) == {USER: {"886912345678"}}
    assert await _exported_phones(stack, other_campaign) == {USER: {"886955666666"}}
    assert sorted(await _phones(stack)) == sorted([(stack.campaign_id, USER, "886912345678"),
                                                   (other_campaign, USER, "886955666666")])
