"""Contact plans: the seed's 聯絡資料 lines (location types, change log, external ID, reuse on
same email and name, recipient as a related 收件者 contact, no updates after the order)."""
from __future__ import annotations

from bot.simulators import backme as sim
from flows.backme.contacts import (
    CHANGE_LOG_TEXT,
    AddressValue,
    ContactAction,
    EmailValue,
    ExistingAddress,
    ExistingContact,
    LocationType,
    MatchRule,
    PhoneValue,
    plan_contacts,
)
from flows.backme.names import PersonName
from flows.backme.payload import BackmeOrder, parse_order


def order_of(body: dict) -> BackmeOrder:
    return parse_order(sim.encode(body))


BUYER = sim.make_user(user_id=270004, name="王小明", email="xiaoming@example.com", cellphone="+886912345678")
HOME = AddressValue("中山路一段100號5樓", "板橋區", "220", "TPQ", "TW", LocationType.HOME)
BILLING = AddressValue("三重路一段3號5樓", "竹北市", "302", "HSQ", "TW", LocationType.BILLING)
PAPER_RECEIPT = sim.make_receipt("單次寄送紙本收據", email="bills@example.com", address="三重路一段3號5樓",
                                 postal_code="302", subdivision="HSQ", city_area="竹北市")


def plan(body: dict, candidates=(), first_sight=True):
    return plan_contacts(order_of(body), candidates, first_sight=first_sight)


def test_change_log_text_is_exact():
    assert CHANGE_LOG_TEXT == "已更新的聯絡人-貝殼自動匯入"


def test_new_buyer_is_created_with_external_id_home_and_billing_locations():
    result = plan(sim.make_order("REG1", user=BUYER, receipt=PAPER_RECEIPT))
    buyer = result.buyer
    assert buyer is not None and buyer.action is ContactAction.CREATE and buyer.contact_id is None
    assert buyer.external_id == "backer-270004"  # 挖貝聯絡人編號270004 → 外部編號 backer-270004
    assert buyer.name == PersonName("王", "小明")
    assert buyer.change_log == "已更新的聯絡人-貝殼自動匯入"
    # Email、地址、電話 → 住家; 收據/發票寄送地址 → 帳單
    assert buyer.add_emails == (
        EmailValue("xiaoming@example.com", LocationType.HOME, True),
        EmailValue("bills@example.com", LocationType.BILLING),
    )
    assert buyer.add_phones == (PhoneValue("0912-345678", True, LocationType.HOME, True),)
    assert buyer.add_addresses == (HOME, BILLING)
    assert result.recipient is None and result.relationship is None


def test_no_receipt_wanted_means_no_billing_values():
    result = plan(sim.make_order("REG1", user=BUYER, receipt=sim.make_receipt("不需要收據", email="bills@example.com")))
    assert result.buyer is not None
    assert all(a.location is LocationType.HOME for a in result.buyer.add_addresses)
    assert all(e.location is LocationType.HOME for e in result.buyer.add_emails)


def test_existing_contact_with_same_email_and_name_is_reused():
    # 購買人已存在於CRM系統:相同的電子郵件與名稱已存在於CRM,就不會另外新增聯絡人資料
    existing = ExistingContact("17", None, "王", "小明", emails=("XiaoMing@Example.com",), phones=("0912-345678",),
                               addresses=(ExistingAddress("a1", "中山路一段100號5樓", "板橋區", "220", LocationType.HOME),))
    buyer = plan(sim.make_order("REG1", user=BUYER, receipt=PAPER_RECEIPT), [existing]).buyer
    assert buyer is not None
    assert (buyer.action, buyer.contact_id, buyer.match) == (ContactAction.REUSE, "17", MatchRule.EMAIL_AND_NAME)
    assert buyer.name is None  # a found contact keeps its name
    assert buyer.external_id == "backer-270004"  # it had none
    assert buyer.add_emails == (EmailValue("bills@example.com", LocationType.BILLING),)
    assert buyer.add_phones == ()
    assert buyer.add_addresses == (BILLING,)
    assert buyer.change_log == CHANGE_LOG_TEXT


def test_same_email_but_other_name_creates_a_new_contact():
    other = ExistingContact("17", None, "李", "大華", emails=("xiaoming@example.com",))
    buyer = plan(sim.make_order("REG1", user=BUYER), [other]).buyer
    assert buyer is not None and buyer.action is ContactAction.CREATE


def test_same_name_but_other_email_creates_a_new_contact():
    other = ExistingContact("17", None, "王", "小明", emails=("someone@example.com",), phones=("0912345678",))
    buyer = plan(sim.make_order("REG1", user=BUYER), [other]).buyer
    assert buyer is not None and buyer.action is ContactAction.CREATE


def test_external_id_match_wins_over_email_and_name():
    by_name = ExistingContact("5", None, "王", "小明", emails=("xiaoming@example.com",))
    by_external = ExistingContact("9", "backer-270004", "Wang", "Ming", emails=("old@example.com",))
    buyer = plan(sim.make_order("REG1", user=BUYER), [by_name, by_external]).buyer
    assert buyer is not None
    assert (buyer.contact_id, buyer.match, buyer.external_id) == ("9", MatchRule.EXTERNAL_ID, None)
    assert EmailValue("xiaoming@example.com", LocationType.HOME, True) in buyer.add_emails


def test_several_matches_pick_the_lowest_id():
    twins = [ExistingContact(i, None, "王", "小明", emails=("xiaoming@example.com",)) for i in ("120", "13", "77")]
    buyer = plan(sim.make_order("REG1", user=BUYER), twins).buyer
    assert buyer is not None and buyer.contact_id == "13"


def test_new_billing_address_demotes_the_previous_one():
    existing = ExistingContact("17", "backer-270004", "王", "小明", emails=("xiaoming@example.com",),
                               addresses=(ExistingAddress("old-bill", "舊地址1號", "新竹市", "300", LocationType.BILLING),
                                          ExistingAddress("home", "中山路一段100號5樓", "板橋區", "220", LocationType.HOME)))
    buyer = plan(sim.make_order("REG1", user=BUYER, receipt=PAPER_RECEIPT), [existing]).buyer
    assert buyer is not None
    assert buyer.add_addresses == (BILLING,) and buyer.demote_address_ids == ("old-bill",)


def test_recipient_with_another_name_becomes_a_related_contact():
    # 若挖貝端的「收件人」與「購買人」名稱不同,會把「收件人」儲存成一個新的聯絡人,並自動建立關係
    recipient = sim.make_recipient(name="張大媽", email="grandma@example.com", cellphone="0933444555",
                                   address="三重路一段3號5樓", postal_code="302", subdivision="HSQ", cityarea="竹北市")
    result = plan(sim.make_order("REG1", user=BUYER, recipient=recipient))
    assert result.buyer is not None and result.buyer.add_addresses == ()  # the address is not the buyer's
    r = result.recipient
    assert r is not None and r.action is ContactAction.CREATE
    assert r.name == PersonName("張", "大媽") and r.external_id is None
    assert r.add_emails == (EmailValue("grandma@example.com", LocationType.HOME, True),)
    assert r.add_phones == (PhoneValue("0933-444555", True, LocationType.HOME, True),)
    assert r.add_addresses == (AddressValue("三重路一段3號5樓", "竹北市", "302", "HSQ", "TW", LocationType.HOME),)
    assert r.change_log == CHANGE_LOG_TEXT
    assert result.relationship is not None
    assert (result.relationship.label_a_b, result.relationship.label_b_a) == ("訂購者", "收件者")


def test_recipient_with_the_buyers_name_is_the_buyer():
    recipient = sim.make_recipient(name="王 小明", email="xiaoming@example.com", cellphone="0922111222")
    result = plan(sim.make_order("REG1", user=BUYER, recipient=recipient))
    assert result.recipient is None and result.relationship is None
    assert result.buyer is not None
    assert result.buyer.add_addresses == (HOME,)
    assert PhoneValue("0922-111222", True, LocationType.HOME) in result.buyer.add_phones


def test_known_recipient_is_reused_by_name_and_phone_and_new_values_go_to_other():
    recipient = sim.make_recipient(name="張大媽", email=None, cellphone="+886933444555",
                                   address="新地址2號", postal_code="302", subdivision="HSQ", cityarea="竹北市")
    known = ExistingContact("40", None, "張", "大媽", phones=("0933-444555",),
                            addresses=(ExistingAddress("x", "舊地址1號", "竹北市", "302", LocationType.HOME),))
    result = plan(sim.make_order("REG1", user=BUYER, recipient=recipient), [known])
    r = result.recipient
    assert r is not None and (r.action, r.contact_id) == (ContactAction.REUSE, "40")
    assert r.add_phones == () and r.add_emails == ()
    assert r.add_addresses == (AddressValue("新地址2號", "竹北市", "302", "HSQ", "TW", LocationType.OTHER),)
    assert result.relationship is not None


def test_same_name_without_shared_email_or_phone_is_a_new_recipient():
    recipient = sim.make_recipient(name="張大媽", email="grandma@example.com", cellphone="0933444555")
    stranger = ExistingContact("41", None, "張", "大媽", emails=("other@example.com",), phones=("0900000000",))
    r = plan(sim.make_order("REG1", user=BUYER, recipient=recipient), [stranger]).recipient
    assert r is not None and r.action is ContactAction.CREATE


def test_edits_after_the_order_never_touch_contacts():
    # 登入挖貝平台修改(地址、衣服尺寸或收據選項等),CRM後台無法同步更新
    recipient = sim.make_recipient(name="張大媽")
    result = plan(sim.make_order("REG1", user=BUYER, recipient=recipient, receipt=PAPER_RECEIPT), first_sight=False)
    assert result.is_empty and result.buyer is None and result.recipient is None and result.relationship is None
