"""Backme (挖貝) simulator: builds realistic order bodies, signs and posts them like Backme does,
scripts delivery scenarios (with duplicates and reorderings), and serves Backme's project
statistics JSON API (``/api/projects/{id}.json?token=…``) for the reverse-sync puller.

Standalone: ``python -m bot.simulators.backme serve --port N`` (stats API with a demo project) and
``python -m bot.simulators.backme send URL --secret S --scenario NAME``.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import hmac
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from flows.backme.receipts import ReceiptOption, receipt_label
from flows.backme.signature import DELIVERY_HEADER, SIGNATURE_HEADER
from flows.backme.signature import sign as _sign_bytes

TAIPEI = dt.timezone(dt.timedelta(hours=8))
BASE_TIME = dt.datetime(2024, 3, 1, 10, 0, 0, tzinfo=TAIPEI)
DEMO_SECRET = "backme-demo-secret"

Body = dict[str, Any]


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def at(minutes: float) -> dt.datetime:
    """A fixed point in simulated time: ``minutes`` after 2024-03-01 10:00 (+08:00)."""
    return BASE_TIME + dt.timedelta(minutes=minutes)


# ---------------------------------------------------------------- body builders


def make_user(user_id: int = 270004, name: str = "王小明", email: str = "xiaoming@example.com",
              cellphone: str = "+886912345678") -> Body:
    return {"id": user_id, "email": email, "name": name, "cellphone": cellphone}


def make_recipient(name: str = "王小明", email: str | None = "xiaoming@example.com",
                   cellphone: str = "0912345678", address: str = "中山路一段100號5樓",
                   postal_code: str = "220", subdivision: str = "NWT", cityarea: str = "板橋區") -> Body:
    return {
        "recipient_name": name,
        "recipient_contact_email": email,
        "recipient_cellphone": cellphone,
        "recipient_address": address,
        "recipient_postal_code": postal_code,
        "recipient_country": "TW",
        "recipient_subdivision": subdivision,
        "recipient_cityarea": cityarea,
    }


def receipt_choice(option: ReceiptOption | str, *, older: bool = False) -> str:
    """Backme's label for a receipt option value: the current label, or the older one on request."""
    return receipt_label(ReceiptOption(option), older=older)


def make_receipt(choice: str | None = None, *, option: ReceiptOption | str = ReceiptOption.PAPER_SINGLE,
                 older_labels: bool = False, email: str | None = None,
                 contact_name: str = "王小明", corporate_name: str = "",
                 identity_card_number: str = "A123456789", tax_number: str = "",
                 address: str = "中山路一段100號5樓", postal_code: str = "220",
                 subdivision: str = "NWT", city_area: str = "板橋區") -> Body:
    """A receipt section. ``choice`` is the label as sent; by default Backme's current label of
    ``option`` (``older_labels=True`` sends the older, seed label)."""
    if choice is None:
        choice = receipt_choice(option, older=older_labels)
    body: Body = {
        "receipt_type": "稅捐收據",
        "choice": choice,
        "contact_name": contact_name,
        "identity_card_number": identity_card_number,
        "country": "TW",
        "subdivision": subdivision,
        "city_area": city_area,
        "postal_code": postal_code,
        "address": address,
    }
    if corporate_name:
        body["corporate_name"] = corporate_name
    if tax_number:
        body["tax_number"] = tax_number
    if email is not None:
        body["email"] = email
    return body


def make_custom_field(field_id: int, name: str, value: str, field_type: str = "text",
                      is_required: bool = False) -> Body:
    return {"id": field_id, "field_type": field_type, "name": name, "is_required": is_required, "value": value}


def make_item(*, item_id: int = 4425501, reward_id: int = 25048, reward_name: str = "小額支持",
              quantity: int = 1, money: str = "500.0", note: str = "",
              custom_fields: list[Body] | None = None) -> Body:
    return {
        "id": item_id,
        "reward_id": reward_id,
        "reward_name": reward_name,
        "quantity": quantity,
        "money": money,
        "note": note,
        "custom_fields": list(custom_fields or []),
    }


def make_order(trade_no: str, *, money: str = "500.0", render_status: str = "success",
               order_type: str = "normal", parent_trade_no: str | None = None,
               payment_type: str = "credit", created: dt.datetime | None = None,
               updated: dt.datetime | None = None, paid: dt.datetime | None = None,
               log: str = "", refund: dt.datetime | None = None,
               next_paid_time: dt.datetime | None = None, next_paid_amount: str = "",
               user: Body | None = None, recipient: Body | None | bool = True,
               receipt: Body | None = None, item: Body | None = None) -> Body:
    """One order body shaped like Backme's (``recipient=True`` → the buyer as recipient)."""
    created = created or BASE_TIME
    updated = updated or created
    user = user or make_user()
    body: Body = {
        "transaction": {
            "trade_no": trade_no,
            "money": money,
            "created_at": _iso(created),
            "updated_at": _iso(updated),
            "quantity": 1,
            "flag": None,
            "render_status": render_status,
            "type": order_type,
            "parent_trade_no": parent_trade_no,
            "items": item or make_item(money=money),
        },
        "payment": {
            "type": payment_type,
            "paid_at": _iso(paid) if paid else None,
            "next_paid_time": _iso(next_paid_time) if next_paid_time else "",
            "next_paid_amount": next_paid_amount,
            "log": log,
            "refund_at": _iso(refund) if refund else None,
        },
        "user": user,
    }
    if recipient is True:
        body["recipient"] = make_recipient(name=user["name"], email=user["email"])
    elif recipient:
        body["recipient"] = recipient
    if receipt is not None:
        body["receipt"] = receipt
    return body


def evolve(body: Body, *, render_status: str, updated: dt.datetime, log: str | None = None,
           paid: dt.datetime | None = None, refund: dt.datetime | None = None) -> Body:
    """A later version of the same order (same trade_no) with a new status."""
    new = copy.deepcopy(body)
    new["transaction"]["render_status"] = render_status
    new["transaction"]["updated_at"] = _iso(updated)
    if log is not None:
        new["payment"]["log"] = log
    if paid is not None:
        new["payment"]["paid_at"] = _iso(paid)
    if refund is not None:
        new["payment"]["refund_at"] = _iso(refund)
    return new


# Named realistic orders --------------------------------------------------------


def single_credit_success(trade_no: str = "REG1000000000000001", **kw: Any) -> Body:
    return make_order(trade_no, render_status="success", payment_type="credit", paid=kw.pop("paid", BASE_TIME), **kw)


def atm_wait(trade_no: str = "REG1000000000000002", **kw: Any) -> Body:
    return make_order(trade_no, render_status="wait", payment_type="atm", **kw)


def cvs_wait_code(trade_no: str = "REG1000000000000003", **kw: Any) -> Body:
    return make_order(trade_no, render_status="wait_code", payment_type="cvs", **kw)


def credit_failed(trade_no: str = "REG1000000000000004", log: str = "授權失敗(05):拒絕交易", **kw: Any) -> Body:
    return make_order(trade_no, render_status="failed", payment_type="credit", log=log, **kw)


def refunded(order: Body, when: dt.datetime) -> Body:
    return evolve(order, render_status="refund", updated=when, refund=when, log="退款完成")


def recurring_parent(trade_no: str = "SUB2000000000000001", render_status: str = "recurring", **kw: Any) -> Body:
    return make_order(trade_no, render_status=render_status, order_type="parent", payment_type="period",
                      paid=kw.pop("paid", BASE_TIME), **kw)


def recurring_child(parent_trade_no: str, n: int, render_status: str = "success", **kw: Any) -> Body:
    """Installment ``n`` (1-based), charged n-1 months after the parent was created."""
    charged = BASE_TIME + dt.timedelta(days=30 * (n - 1), minutes=1)
    kw.setdefault("created", charged)
    kw.setdefault("paid", charged)
    kw.setdefault("next_paid_time", charged + dt.timedelta(days=30))
    return make_order(f"{parent_trade_no}C{n:02d}", render_status=render_status, order_type="child",
                      parent_trade_no=parent_trade_no, payment_type="credit", **kw)


def with_custom_fields(order: Body, fields: list[Body], note: str = "") -> Body:
    new = copy.deepcopy(order)
    new["transaction"]["items"]["custom_fields"] = fields
    new["transaction"]["items"]["note"] = note
    return new


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Delivery:
    """One POST: the body and its X-Backme-Delivery ID (redeliveries get a new ID)."""

    body: Body
    delivery_id: str


@dataclass(frozen=True)
class Scenario:
    """A delivery script and the CRM statuses (ContributionStatus / RecurringStatus values)
    every trade must end in, whatever the script's duplicates and reorderings."""

    name: str
    description: str
    deliveries: tuple[Delivery, ...]
    expected: Mapping[str, str] = field(default_factory=dict)


def _deliveries(*bodies: Body) -> tuple[Delivery, ...]:
    return tuple(Delivery(b, f"sim-{i:03d}-{b['transaction']['trade_no']}") for i, b in enumerate(bodies))


def scenarios(*, older_labels: bool = False) -> dict[str, Scenario]:
    """The named delivery scripts (receipt labels: Backme's current ones, or the older ones)."""
    credit = single_credit_success("REG1000000000000001", updated=at(0))
    atm = atm_wait("REG1000000000000002", updated=at(0))
    atm_paid = evolve(atm, render_status="success", updated=at(90), paid=at(89))
    failed = credit_failed("REG1000000000000004", updated=at(0))
    refund_src = single_credit_success("REG1000000000000005", updated=at(0))
    refund = refunded(refund_src, at(60 * 24))
    parent = recurring_parent("SUB2000000000000001", updated=at(0))
    children = [recurring_child("SUB2000000000000001", n, updated=at(30 * 24 * 60 * (n - 1) + 1)) for n in (1, 2, 3)]
    parent_done = evolve(parent, render_status="success", updated=at(30 * 24 * 60 * 2 + 5))
    cancel_parent = recurring_parent("SUB2000000000000002", updated=at(0))
    cancel_child = recurring_child("SUB2000000000000002", 1, updated=at(1))
    cancelled = evolve(cancel_parent, render_status="failed_cancel", updated=at(60 * 24 * 10), log="使用者取消定期定額")
    recipient_order = make_order(
        "REG1000000000000006", updated=at(0), paid=at(0),
        recipient=make_recipient(name="張大媽", email="grandma@example.com", cellphone="0933444555",
                                 address="三重路一段3號5樓", postal_code="302", subdivision="HSQ", cityarea="竹北市"),
        receipt=make_receipt(option=ReceiptOption.E_SINGLE, older_labels=older_labels, email="receipts@example.org"),
    )
    return {
        "single_credit_success": Scenario(
            "single_credit_success", "one credit-card donation, delivered twice",
            _deliveries(credit, credit), {"REG1000000000000001": "completed"}),
        "atm_wait_then_success": Scenario(
            "atm_wait_then_success", "ATM code issued, then paid; the paid version arrives first and the wait one is redelivered",
            _deliveries(atm_paid, atm, atm, atm_paid), {"REG1000000000000002": "completed"}),
        "failed_with_log": Scenario(
            "failed_with_log", "a declined card: stored as failed with the gateway's message",
            _deliveries(failed, failed), {"REG1000000000000004": "failed"}),
        "refund_before_order": Scenario(
            "refund_before_order", "the refund version arrives before the original success",
            _deliveries(refund, refund_src, refund), {"REG1000000000000005": "cancelled"}),
        "recurring_term_done": Scenario(
            "recurring_term_done", "a 3-month recurring order; installment 2 arrives before the parent; term done",
            _deliveries(children[1], parent, children[0], parent_done, children[2], children[0], parent),
            {"SUB2000000000000001": "completed", **{c["transaction"]["trade_no"]: "completed" for c in children}}),
        "recurring_cancelled": Scenario(
            "recurring_cancelled", "a recurring order cancelled after its first installment; cancel delivered first",
            _deliveries(cancelled, cancel_child, cancel_parent),
            {"SUB2000000000000002": "cancelled", cancel_child["transaction"]["trade_no"]: "completed"}),
        "recipient_and_e_receipt": Scenario(
            "recipient_and_e_receipt", "a gift shipped to someone else, with a single e-receipt to a separate email",
            _deliveries(recipient_order), {"REG1000000000000006": "completed"}),
    }


def receipt_option_orders(*, older_labels: bool = False) -> Iterator[tuple[str, Body]]:
    """One completed order per receipt option (label, body): Backme's current labels, or the
    older (seed) ones on request; e-receipt options carry a separate receipt e-mail."""
    for i, option in enumerate(ReceiptOption):
        label = receipt_choice(option, older=older_labels)
        email = "receipts@example.org" if option.is_e_receipt else None
        yield label, make_order(f"REG30000000000000{i:02d}", paid=BASE_TIME,
                                receipt=make_receipt(label, email=email))


# ---------------------------------------------------------------- signing and posting


def encode(body: Body) -> bytes:
    """The raw bytes Backme would send (UTF-8 JSON, non-ASCII kept)."""
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def sign(body: bytes | Body, secret: str) -> str:
    """The X-Backme-Signature value for a body (raw bytes, or a dict encoded with ``encode``)."""
    raw = body if isinstance(body, (bytes, bytearray)) else encode(body)
    return _sign_bytes(bytes(raw), secret)


async def post(url: str, body: bytes | Body, secret: str | None, *, delivery_id: str | None = None,
               signature: str | None = None, session: ClientSession | None = None) -> tuple[int, str]:
    """POST one order like Backme: JSON body, X-Backme-Signature (omitted when ``secret`` is None
    and no explicit ``signature``), X-Backme-Delivery. Returns (status, response text)."""
    raw = bytes(body) if isinstance(body, (bytes, bytearray)) else encode(body)
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id or str(uuid.uuid4())}
    if signature is None and secret is not None:
        signature = sign(raw, secret)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    own = session is None
    client = session or ClientSession(timeout=ClientTimeout(total=10))
    try:
        async with client.post(url, data=raw, headers=headers) as response:
            return response.status, await response.text()
    finally:
        if own:
            await client.close()


async def run_scenario(url: str, scenario: Scenario, secret: str) -> list[tuple[int, str]]:
    """Post every delivery of a scenario in order; the (status, text) of each."""
    results = []
    async with ClientSession(timeout=ClientTimeout(total=10)) as session:
        for delivery in scenario.deliveries:
            results.append(await post(url, delivery.body, secret, delivery_id=delivery.delivery_id, session=session))
    return results


# ---------------------------------------------------------------- project stats API


@dataclass
class ProjectStats:
    """One Backme project as its stats API reports it, with the field names netiCRM's processor
    reads (``money_pledged``, ``backer_count``) and the rest of the same object (``id``, ``title``,
    ``money_goal``, ``pledged_count``, ``rewards``)."""

    id: int
    token: str = field(repr=False)
    title: str
    url: str
    money_pledged: int = 0  # NT$
    backer_count: int = 0  # 人次
    money_goal: int | None = 0  # None → the field is left out
    pledged_count: int = 0
    rewards: list[dict[str, Any]] = field(default_factory=list)
    updated_at: dt.datetime = BASE_TIME

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "money_pledged": self.money_pledged,
            "backer_count": self.backer_count,
            "pledged_count": self.pledged_count,
            "rewards": list(self.rewards),
            "updated_at": _iso(self.updated_at),
        }
        if self.money_goal is not None:
            body["money_goal"] = self.money_goal
        return body


PROJECTS_KEY = web.AppKey("backme_projects", dict)


async def _project_stats(request: web.Request) -> web.Response:
    projects: dict[str, ProjectStats] = request.app[PROJECTS_KEY]
    project = projects.get(request.match_info["id"])
    token = request.query.get("token", "")
    if project is None:
        return web.json_response({"error": "not found"}, status=404)
    if not token or not hmac.compare_digest(token.encode("utf-8"), project.token.encode("utf-8")):
        return web.json_response({"error": "unauthorized"}, status=401)
    return web.json_response(project.to_json())


def create_backme_stats_app(projects: Mapping[int | str, ProjectStats] | list[ProjectStats]) -> web.Application:
    """Serve ``GET /api/projects/{id}.json?token=…`` (401 on a missing/bad token, 404 on an
    unknown project). ``app[PROJECTS_KEY]`` is the live dict: change a project to move its stats."""
    items = projects.values() if isinstance(projects, Mapping) else projects
    app = web.Application()
    app[PROJECTS_KEY] = {str(p.id): p for p in items}
    app.router.add_get(r"/api/projects/{id:\d+}.json", _project_stats)
    return app


def demo_projects() -> list[ProjectStats]:
    return [ProjectStats(id=1234, token="a56898195dff0b36b987e9e0602f2d1f", title="挖貝募資案示範",
                         url="https://demo.backme.tw/projects/1234", money_pledged=123456,
                         backer_count=321, money_goal=500000, pledged_count=330)]


def create_app() -> web.Application:
    """The standalone simulator app (stats API with the demo project)."""
    return create_backme_stats_app(demo_projects())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.simulators.backme", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the project stats API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8093)
    send = sub.add_parser("send", help="post a scenario's deliveries to a webhook URL")
    send.add_argument("url")
    send.add_argument("--secret", default=DEMO_SECRET)
    send.add_argument("--scenario", choices=sorted(scenarios()), default="single_credit_success")
    send.add_argument("--older-labels", action="store_true",
                      help="send the older (seed) receipt labels instead of Backme's current ones")
    args = parser.parse_args(argv)
    if args.command == "serve":
        web.run_app(create_app(), host=args.host, port=args.port)
        return 0
    scenario = scenarios(older_labels=args.older_labels)[args.scenario]
    for status, text in asyncio.run(run_scenario(args.url, scenario, args.secret)):
        print(status, text[:200])
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
