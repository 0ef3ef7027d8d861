"""Contact plan for one Backme order: which CRM contact the buyer (and a differing recipient) is,
create or reuse, which email/phone/address values to add at which location type, the 收件者
relationship and the change-log text. Pure: candidates in, plain-data plan out.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from flows.backme.names import PersonName, name_key, same_person_name, split_name
from flows.backme.payload import BackmeOrder
from flows.backme.phones import phone_key, phone_number
from flows.backme.receipts import UnknownReceiptOption, order_receipt_option
from flows.backme.regions import crm_subdivision

CHANGE_LOG_TEXT = "已更新的聯絡人-貝殼自動匯入"
EXTERNAL_ID_PREFIX = "backer-"
RELATIONSHIP_ORDERER = "訂購者"  # buyer side (a → b)
RELATIONSHIP_RECIPIENT = "收件者"  # recipient side (b → a); the type searched in 進階搜尋


class LocationType(str, Enum):
    """CRM location types, by their zh-TW names."""

    HOME = "住家"
    BILLING = "帳單"
    OTHER = "其他"


class ContactAction(str, Enum):
    CREATE = "create"
    REUSE = "reuse"


class MatchRule(str, Enum):
    EXTERNAL_ID = "external_id"
    EMAIL_AND_NAME = "email_and_name"
    NAME_AND_EMAIL_OR_PHONE = "name_and_email_or_phone"  # recipients only


@dataclass(frozen=True)
class EmailValue:
    email: str
    location: LocationType
    is_primary: bool = False


@dataclass(frozen=True)
class PhoneValue:
    phone: str
    is_mobile: bool
    location: LocationType
    is_primary: bool = False


@dataclass(frozen=True)
class AddressValue:
    street_address: str
    city: str  # Backme's 鄉鎮市區 (cityarea / city_area)
    postal_code: str
    subdivision: str | None  # CRM state/province abbreviation (see regions.py)
    country: str  # ISO 3166-1 alpha-2, "TW"
    location: LocationType


@dataclass(frozen=True)
class ExistingAddress:
    id: str
    street_address: str
    city: str
    postal_code: str
    location: LocationType


@dataclass(frozen=True)
class ExistingContact:
    """A CRM contact the caller found as a possible match (by external ID, email, name or phone)."""

    id: str
    external_id: str | None
    last_name: str
    first_name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    addresses: tuple[ExistingAddress, ...] = ()


@dataclass(frozen=True)
class ContactPlan:
    """What to do for one person. ``name`` is None on reuse (a found contact keeps its name);
    ``external_id`` is None when nothing is to be set."""

    action: ContactAction
    contact_id: str | None
    match: MatchRule | None
    name: PersonName | None
    external_id: str | None
    add_emails: tuple[EmailValue, ...]
    add_phones: tuple[PhoneValue, ...]
    add_addresses: tuple[AddressValue, ...]
    demote_address_ids: tuple[str, ...]  # existing 帳單 addresses to move to 其他
    change_log: str = CHANGE_LOG_TEXT


@dataclass(frozen=True)
class RelationshipPlan:
    """Buyer (contact a, 訂購者) → recipient (contact b, 收件者)."""

    label_a_b: str = RELATIONSHIP_ORDERER
    label_b_a: str = RELATIONSHIP_RECIPIENT


@dataclass(frozen=True)
class ContactsPlan:
    """The whole contact side of one order; all None when contacts must not be touched."""

    buyer: ContactPlan | None
    recipient: ContactPlan | None = None
    relationship: RelationshipPlan | None = None

    @property
    def is_empty(self) -> bool:
        return self.buyer is None and self.recipient is None


NO_CONTACT_CHANGES = ContactsPlan(buyer=None)


def external_id(order: BackmeOrder) -> str:
    """``backer-<user.id>`` (Backme member 270004 → ``backer-270004``)."""
    return f"{EXTERNAL_ID_PREFIX}{order.user.id}"


# ---------------------------------------------------------------- helpers


def _id_order(contact: ExistingContact) -> tuple[int, int, str]:
    """Lowest ID first (numeric IDs numerically), as the CRM's dedupe picks the first found."""
    return (0, int(contact.id), "") if contact.id.isdigit() else (1, 0, contact.id)


def _address_key(street: str, city: str, postal_code: str) -> tuple[str, str, str]:
    return (name_key(street), name_key(city), postal_code.strip())


def _has_email(contact: ExistingContact, email: str) -> bool:
    wanted = email.strip().casefold()
    return any(e.strip().casefold() == wanted for e in contact.emails)


def _has_phone(contact: ExistingContact, phone: str) -> bool:
    wanted = phone_key(phone)
    return bool(wanted) and any(phone_key(p) == wanted for p in contact.phones)


def _has_address(contact: ExistingContact, address: AddressValue) -> bool:
    wanted = _address_key(address.street_address, address.city, address.postal_code)
    return any(_address_key(a.street_address, a.city, a.postal_code) == wanted for a in contact.addresses)


def _recipient_address(order: BackmeOrder, location: LocationType) -> AddressValue | None:
    r = order.recipient
    if r is None or not r.recipient_address:
        return None
    return AddressValue(
        street_address=r.recipient_address,
        city=r.recipient_cityarea,
        postal_code=r.recipient_postal_code,
        subdivision=crm_subdivision(r.recipient_subdivision),
        country=r.recipient_country.upper(),
        location=location,
    )


def _wants_receipt(order: BackmeOrder) -> bool:
    """A receipt section whose option is anything but 不需要收據 (an unknown label counts as
    wanting one: the address was given for a reason)."""
    if order.receipt is None:
        return False
    try:
        option = order_receipt_option(order)
    except UnknownReceiptOption:
        return True
    return option is None or option.wants_receipt


def _billing_values(order: BackmeOrder) -> tuple[AddressValue | None, EmailValue | None]:
    receipt = order.receipt
    if receipt is None or not _wants_receipt(order):
        return None, None
    address = None
    if receipt.address:
        address = AddressValue(
            street_address=receipt.address,
            city=receipt.city_area,
            postal_code=receipt.postal_code,
            subdivision=crm_subdivision(receipt.subdivision),
            country=receipt.country.upper(),
            location=LocationType.BILLING,
        )
    email = EmailValue(receipt.email, LocationType.BILLING) if receipt.email else None
    return address, email


def recipient_is_buyer(order: BackmeOrder) -> bool:
    """No recipient, an unnamed one, or one with the buyer's name (spaces/case ignored)."""
    r = order.recipient
    return r is None or not r.recipient_name or name_key(r.recipient_name) == name_key(order.user.name)


# ---------------------------------------------------------------- buyer


def match_buyer(order: BackmeOrder, candidates: Iterable[ExistingContact]) -> tuple[ExistingContact, MatchRule] | None:
    """External ID ``backer-<id>`` first; else the same email AND the same name (the seed:
    相同的電子郵件與名稱已存在於CRM,就不會另外新增聯絡人資料); else no match."""
    ordered = sorted(candidates, key=_id_order)
    wanted_external = external_id(order)
    for contact in ordered:
        if contact.external_id == wanted_external:
            return contact, MatchRule.EXTERNAL_ID
    for contact in ordered:
        if _has_email(contact, order.user.email) and same_person_name(
            order.user.name, contact.last_name, contact.first_name
        ):
            return contact, MatchRule.EMAIL_AND_NAME
    return None


def _buyer_values(order: BackmeOrder) -> tuple[list[EmailValue], list[PhoneValue], list[AddressValue]]:
    emails = [EmailValue(order.user.email, LocationType.HOME, is_primary=True)]
    phones: list[PhoneValue] = []
    phone = phone_number(order.user.cellphone)
    if phone is not None:
        phones.append(PhoneValue(phone.number, phone.is_mobile, LocationType.HOME, is_primary=True))
    addresses: list[AddressValue] = []
    if recipient_is_buyer(order):
        home = _recipient_address(order, LocationType.HOME)
        if home is not None:
            addresses.append(home)
        r = order.recipient
        if r is not None:
            if r.recipient_contact_email and r.recipient_contact_email.casefold() != order.user.email.casefold():
                emails.append(EmailValue(r.recipient_contact_email, LocationType.HOME))
            extra = phone_number(r.recipient_cellphone)
            if extra is not None and (phone is None or phone_key(extra.number) != phone_key(phone.number)):
                phones.append(PhoneValue(extra.number, extra.is_mobile, LocationType.HOME))
    billing_address, billing_email = _billing_values(order)
    if billing_address is not None:
        addresses.append(billing_address)
    if billing_email is not None and all(e.email.casefold() != billing_email.email.casefold() for e in emails):
        emails.append(billing_email)
    return emails, phones, addresses


def plan_buyer(order: BackmeOrder, candidates: Iterable[ExistingContact]) -> ContactPlan:
    """Create or reuse the buyer's contact, adding only values it does not have yet."""
    emails, phones, addresses = _buyer_values(order)
    found = match_buyer(order, candidates)
    if found is None:
        return ContactPlan(
            action=ContactAction.CREATE,
            contact_id=None,
            match=None,
            name=split_name(order.user.name),
            external_id=external_id(order),
            add_emails=tuple(emails),
            add_phones=tuple(phones),
            add_addresses=tuple(addresses),
            demote_address_ids=(),
        )
    contact, rule = found
    new_addresses = tuple(a for a in addresses if not _has_address(contact, a))
    demote: tuple[str, ...] = ()
    if any(a.location is LocationType.BILLING for a in new_addresses):
        demote = tuple(a.id for a in contact.addresses if a.location is LocationType.BILLING)
    return ContactPlan(
        action=ContactAction.REUSE,
        contact_id=contact.id,
        match=rule,
        name=None,
        external_id=None if contact.external_id else external_id(order),
        add_emails=tuple(e for e in emails if not _has_email(contact, e.email)),
        add_phones=tuple(p for p in phones if not _has_phone(contact, p.phone)),
        add_addresses=new_addresses,
        demote_address_ids=demote,
    )


# ---------------------------------------------------------------- recipient


def plan_recipient(order: BackmeOrder, candidates: Iterable[ExistingContact]) -> ContactPlan | None:
    """A second contact for a recipient whose name differs from the buyer's; None otherwise.

    Reused when a contact has the same name and the same email or phone; on reuse, a value goes
    to 其他 when the contact already has one of that kind (its own home values stay primary).
    """
    if recipient_is_buyer(order):
        return None
    r = order.recipient
    assert r is not None
    phone = phone_number(r.recipient_cellphone)
    address = _recipient_address(order, LocationType.HOME)
    found = None
    for contact in sorted(candidates, key=_id_order):
        if not same_person_name(r.recipient_name, contact.last_name, contact.first_name):
            continue
        if (r.recipient_contact_email and _has_email(contact, r.recipient_contact_email)) or (
            phone is not None and _has_phone(contact, phone.number)
        ):
            found = contact
            break
    if found is None:
        return ContactPlan(
            action=ContactAction.CREATE,
            contact_id=None,
            match=None,
            name=split_name(r.recipient_name),
            external_id=None,
            add_emails=(EmailValue(r.recipient_contact_email, LocationType.HOME, True),)
            if r.recipient_contact_email else (),
            add_phones=(PhoneValue(phone.number, phone.is_mobile, LocationType.HOME, True),)
            if phone is not None else (),
            add_addresses=(address,) if address is not None else (),
            demote_address_ids=(),
        )
    emails: tuple[EmailValue, ...] = ()
    if r.recipient_contact_email and not _has_email(found, r.recipient_contact_email):
        where = LocationType.OTHER if found.emails else LocationType.HOME
        emails = (EmailValue(r.recipient_contact_email, where, not found.emails),)
    phones: tuple[PhoneValue, ...] = ()
    if phone is not None and not _has_phone(found, phone.number):
        where = LocationType.OTHER if found.phones else LocationType.HOME
        phones = (PhoneValue(phone.number, phone.is_mobile, where, not found.phones),)
    addresses: tuple[AddressValue, ...] = ()
    if address is not None and not _has_address(found, address):
        where = LocationType.OTHER if found.addresses else LocationType.HOME
        addresses = (AddressValue(address.street_address, address.city, address.postal_code,
                                  address.subdivision, address.country, where),)
    return ContactPlan(
        action=ContactAction.REUSE,
        contact_id=found.id,
        match=MatchRule.NAME_AND_EMAIL_OR_PHONE,
        name=None,
        external_id=None,
        add_emails=emails,
        add_phones=phones,
        add_addresses=addresses,
        demote_address_ids=(),
    )


# ---------------------------------------------------------------- whole plan


def plan_contacts(
    order: BackmeOrder, candidates: Iterable[ExistingContact], *, first_sight: bool
) -> ContactsPlan:
    """The contact side of an order. ``first_sight`` must be True only when this trade_no is new
    (``TradeDecision.first_sight``): edits made on Backme after the order never touch contacts."""
    if not first_sight:
        return NO_CONTACT_CHANGES
    pool = tuple(candidates)
    buyer = plan_buyer(order, pool)
    recipient = plan_recipient(order, pool)
    relationship = None
    if recipient is not None and not (
        recipient.contact_id is not None and recipient.contact_id == buyer.contact_id
    ):
        relationship = RelationshipPlan()
    return ContactsPlan(buyer=buyer, recipient=recipient, relationship=relationship)
