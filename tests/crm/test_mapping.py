"""Every mapping line of the seed, checked in the stored CRM rows after a real delivery."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from bot.simulators import backme as sim
from bot.storage.crm_models import (
    ChangeLogEntry,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    Contribution,
    DonationPage,
    EmailOutbox,
    Relationship,
)
from flows.backme.receipts import ReceiptOption


async def test_buyer_contact_locations_and_change_log(crm):
    body = sim.single_credit_success(receipt=sim.make_receipt("單次寄送紙本收據", address="復興北路99號",
                                                               postal_code="104", subdivision="TPE",
                                                               city_area="中山區"))
    assert (await crm.post(body))[0] == 200
    [contact] = await crm.rows(Contact)
    assert contact.external_identifier == "backer-270004"  # 外部編號=backer-<id>
    assert (contact.last_name, contact.first_name) == ("王", "小明")
    [email] = await crm.rows(ContactEmail)
    assert (email.email, email.location_type, email.is_primary) == ("xiaoming@example.com", "住家", True)
    [phone] = await crm.rows(ContactPhone)
    assert (phone.phone, phone.location_type, phone.is_mobile) == ("0912-345678", "住家", True)
    addresses = {(a.location_type, a.street_address, a.city, a.postal_code) for a in await crm.rows(ContactAddress)}
    assert addresses == {("住家", "中山路一段100號5樓", "板橋區", "220"), ("帳單", "復興北路99號", "中山區", "104")}
    [log] = await crm.rows(ChangeLogEntry)
    assert log.text == "已更新的聯絡人-貝殼自動匯入"
    assert log.contact_id == contact.id


async def test_contribution_fields(crm):
    item = sim.make_item(reward_name="海龜認養", reward_id=321, money="1200.0", note="請開公司抬頭",
                         custom_fields=[sim.make_custom_field(1, "衣服尺寸", "L")])
    body = sim.single_credit_success("REG9", money="1200.0", item=item,
                                     receipt=sim.make_receipt("單次寄送紙本收據"))
    assert (await crm.post(body))[0] == 200
    [c] = await crm.rows(Contribution)
    assert c.processor == "挖貝"
    assert c.page_id == crm.page_id
    assert c.trade_no == "REG9"
    assert c.amount == Decimal("1200.00")
    assert c.financial_type == "捐款"
    assert c.status == "completed"
    assert c.instrument == "credit_card"
    assert c.receipt_option == "1"
    assert c.receipt_number == "OC-000001"  # the page's 收據編號前綴
    assert c.receipt_title == "王小明"
    assert c.note_text.splitlines() == ["海龜認養(321)x1:1200", "註記=>請開公司抬頭", "衣服尺寸→L"]
    [contact] = await crm.rows(Contact)
    assert c.contact_id == contact.id


async def test_custom_field_mapping_per_page(crm):
    from sqlalchemy import update

    from bot.storage.crm_models import DonationPage

    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(custom_field_mapping={
            "衣服尺寸": {"crm_field": "custom_12", "options": {"L": "large", "M": "medium"}},
            "生日": "birth_date"}))
        await session.commit()
    item = sim.make_item(custom_fields=[sim.make_custom_field(1, "衣服尺寸", "L", "select_box"),
                                        sim.make_custom_field(2, "生日", "1990-01-01"),
                                        sim.make_custom_field(3, "留言", "加油")])
    assert (await crm.post(sim.single_credit_success(item=item)))[0] == 200
    [c] = await crm.rows(Contribution)
    assert c.custom_values == {"custom_12": "large", "birth_date": "1990-01-01"}
    assert "留言→加油" in c.note_text.splitlines()


async def test_failed_transaction_kept_with_reason(crm):
    assert (await crm.post(sim.credit_failed("REGF", log="授權失敗(05):拒絕交易")))[0] == 200
    [c] = await crm.rows(Contribution)
    assert c.status == "failed"
    assert c.status_reason == "failed: 授權失敗(05):拒絕交易"
    assert c.receipt_number is None
    assert await crm.count(EmailOutbox) == 0


# Every receipt option × (separate receipt e-mail given or not), in both label sets: which e-mails
# are queued, to whom, and which get a receipt number. Per the notes and the seed: the confirmation
# goes out for every completed donation, to the receipt e-mail for e-receipt options when given,
# else to the member's e-mail; only the single e-receipt is e-mailed per donation.
@pytest.mark.parametrize("older", [False, True], ids=["current-labels", "older-labels"])
async def test_every_receipt_option_and_email_case(crm, older):
    member, separate = "xiaoming@example.com", "receipts@example.org"
    cases = []
    for n, option in enumerate(ReceiptOption):
        for given in (True, False):
            trade_no = f"RC{n}{'E' if given else 'N'}"
            body = sim.single_credit_success(trade_no, receipt=sim.make_receipt(
                option=option, older_labels=older, email=separate if given else None))
            cases.append((trade_no, option, given, body))
    cases.append(("RCNONE", None, False, sim.single_credit_success("RCNONE")))  # no receipt section
    for trade_no, _, _, body in cases:
        assert (await crm.post(body))[0] == 200, trade_no
    rows = {c.trade_no: c for c in await crm.rows(Contribution)}
    outbox = await crm.rows(EmailOutbox)
    for trade_no, option, given, _ in cases:
        row = rows[trade_no]
        assert row.receipt_option == (option.value if option else None), trade_no
        to = separate if option is not None and option.is_e_receipt and given else member
        mine = {o.kind: o.to_address for o in outbox if o.contribution_id == row.id}
        expected = {"confirmation": to}
        if option is ReceiptOption.E_SINGLE:
            expected["receipt"] = to
        assert mine == expected, (trade_no, option)
        assert (row.receipt_number is not None) == (option is not None and option.wants_receipt), trade_no
    confirmation = next(o for o in outbox if o.contribution_id == rows["RC4E"].id and o.kind == "confirmation")
    receipt = next(o for o in outbox if o.contribution_id == rows["RC4E"].id and o.kind == "receipt")
    # The receipt names the option by the seed's default display name, not its stored value.
    assert "收據選項:單次寄送電子收據" in receipt.body and "single_e_receipt" not in receipt.body
    assert "RC4E" in confirmation.body


async def test_half_width_labels_map_through_the_route(crm):
    labels = {"RH1": ("紙本收據(單次寄送)", "1"), "RH2": ("需要收據(不寄送,資料由團隊上傳國稅局)", "2"),
              "RH3": ("電子收據(年度開立)", "annual_e_receipt"), "RH4": ("電子收據 (單次開立)", "single_e_receipt")}
    for trade_no, (label, _) in labels.items():
        body = sim.single_credit_success(trade_no, receipt=sim.make_receipt(label, email="r@example.org"))
        assert (await crm.post(body))[0] == 200
    stored = {c.trade_no: c.receipt_option for c in await crm.rows(Contribution)}
    assert stored == {trade_no: value for trade_no, (_, value) in labels.items()}


async def test_receipt_display_name_is_the_pages_own_when_edited(crm):
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(receipt_option_names={"single_e_receipt": "電子收據(單筆)"}))
        await session.commit()
    body = sim.single_credit_success("RCD", receipt=sim.make_receipt(option="single_e_receipt", email="r@example.org"))
    assert (await crm.post(body))[0] == 200
    [receipt] = [o for o in await crm.rows(EmailOutbox) if o.kind == "receipt"]
    assert "收據選項:電子收據(單筆)" in receipt.body


async def test_no_receipt_email_when_the_page_has_e_receipts_off(crm):
    async with crm.db.session() as session:
        await session.execute(update(DonationPage).values(e_receipt_enabled=False))
        await session.commit()
    body = sim.single_credit_success("RCOFF", receipt=sim.make_receipt(option="single_e_receipt", email="r@example.org"))
    assert (await crm.post(body))[0] == 200
    assert [(o.kind, o.to_address) for o in await crm.rows(EmailOutbox)] == [("confirmation", "r@example.org")]


async def test_e_receipt_email_ignored_for_paper_options(crm):
    body = sim.single_credit_success(receipt=sim.make_receipt("單次寄送紙本收據", email="other@example.org"))
    assert (await crm.post(body))[0] == 200
    [c] = await crm.rows(Contribution)
    assert c.notification_email == "xiaoming@example.com"


async def test_recipient_with_another_name_is_related_contact(crm):
    scenario = sim.scenarios()["recipient_and_e_receipt"]
    for d in scenario.deliveries:
        assert (await crm.post(d.body))[0] == 200
    buyer, recipient = await crm.rows(Contact)
    assert buyer.external_identifier == "backer-270004"
    assert recipient.external_identifier is None
    assert (recipient.last_name, recipient.first_name) == ("張", "大媽")
    [rel] = await crm.rows(Relationship)
    assert (rel.contact_a_id, rel.contact_b_id, rel.relationship_type) == (buyer.id, recipient.id, "收件者")
    recipient_addresses = await crm.rows(ContactAddress, ContactAddress.contact_id == recipient.id)
    assert [(a.street_address, a.location_type) for a in recipient_addresses] == [("三重路一段3號5樓", "住家")]
    buyer_addresses = await crm.rows(ContactAddress, ContactAddress.contact_id == buyer.id)
    assert ("三重路一段3號5樓", "住家") not in [(a.street_address, a.location_type) for a in buyer_addresses]
    # The e-receipt email: the receipt email from the receipt section, also stored as 帳單.
    buyer_emails = {(e.email, e.location_type) for e in await crm.rows(ContactEmail, ContactEmail.contact_id == buyer.id)}
    assert ("receipts@example.org", "帳單") in buyer_emails
    assert {o.to_address for o in await crm.rows(EmailOutbox)} == {"receipts@example.org"}


async def test_existing_contact_with_same_email_and_name_is_reused(crm):
    async with crm.db.session() as session:
        existing = Contact(last_name="王", first_name="小明")
        session.add(existing)
        await session.flush()
        session.add(ContactEmail(contact_id=existing.id, email="XiaoMing@example.com",
                                 email_key="xiaoming@example.com", location_type="住家", is_primary=True))
        other = Contact(last_name="王", first_name="大明")  # same email, other name: not reused
        session.add(other)
        await session.flush()
        await session.commit()
    assert (await crm.post(sim.single_credit_success())) [0] == 200
    contacts = await crm.rows(Contact)
    assert len(contacts) == 2
    reused = contacts[0]
    assert reused.external_identifier == "backer-270004"
    emails = await crm.rows(ContactEmail, ContactEmail.contact_id == reused.id)
    assert len(emails) == 1 and emails[0].is_primary  # the same email is not added twice
    [log] = await crm.rows(ChangeLogEntry)
    assert log.contact_id == reused.id


async def test_previous_billing_address_is_demoted_not_lost(crm):
    first = sim.single_credit_success("REGA", receipt=sim.make_receipt(address="舊地址1號"))
    second = sim.single_credit_success("REGB", receipt=sim.make_receipt(address="新地址2號"))
    assert (await crm.post(first))[0] == 200
    assert (await crm.post(second))[0] == 200
    addresses = {a.street_address: a.location_type for a in await crm.rows(ContactAddress)}
    assert addresses["新地址2號"] == "帳單"
    assert addresses["舊地址1號"] == "其他"
    assert await crm.count(Contact) == 1
    assert await crm.count(ChangeLogEntry) == 2
