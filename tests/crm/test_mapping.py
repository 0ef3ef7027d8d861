"""Every mapping line of the seed, checked in the stored CRM rows after a real delivery."""
from __future__ import annotations

from decimal import Decimal

from bot.simulators import backme as sim
from bot.storage.crm_models import (
    ChangeLogEntry,
    Contact,
    ContactAddress,
    ContactEmail,
    ContactPhone,
    Contribution,
    EmailOutbox,
    Relationship,
)


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


async def test_every_receipt_option_label_and_email_routing(crm):
    expected = {"不需要收據": "0", "單次寄送紙本收據": "1", "需要收據但不需要寄送": "2",
                "年度寄送紙本收據": "annual_paper_receipt", "單次寄送電子收據": "single_e_receipt",
                "年度寄送電子收據": "annual_e_receipt"}
    for label, body in sim.receipt_option_orders():
        assert (await crm.post(body))[0] == 200, label
    rows = await crm.rows(Contribution)
    assert len(rows) == 6
    by_label = dict(zip(expected, rows))
    for label, row in by_label.items():
        assert row.receipt_option == expected[label], label
        wants_e = label in ("單次寄送電子收據", "年度寄送電子收據")
        assert row.notification_email == ("receipts@example.org" if wants_e else "xiaoming@example.com")
    outbox = await crm.rows(EmailOutbox)
    for row in rows:
        mine = [o for o in outbox if o.contribution_id == row.id]
        assert {o.to_address for o in mine} == {row.notification_email}
        # 不需要收據: no receipt number and only the confirmation email.
        kinds = {o.kind for o in mine}
        assert kinds == ({"confirmation"} if row.receipt_option == "0" else {"confirmation", "receipt"})


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
