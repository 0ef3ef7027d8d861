"""Local MOF e-invoice API simulator: same paths, parameters, signing and answers as the real
service, with seedable invoices and carriers, "not uploaded until T" (and, on a carrier,
"listed but not detailed until T"), a settable clock,
injectable faults, and a log of every request (secrets redacted).

It keeps its own copy of the wire format and of the signing algorithm (deliberately not
shared with bot/mof) so that a client bug is not hidden by shared code.

Control API (JSON):
  POST /_sim/invoices   {"invoices": [...], "carriers": [...]}   (same shape as a seed file)
  POST /_sim/reset      forget invoices, carriers, faults, requests; real clock
  GET  /_sim/requests   every protocol request received, secrets redacted
  POST /_sim/faults     {"latency_ms", "server_errors", "server_error_status", "hang",
                         "bad_signature", "rate_limit", "http_429", "malformed"}
  GET  /_sim/faults
  POST /_sim/clock      {"now": ISO-8601 | null} or {"advance_seconds": n}
  GET  /_sim/clock
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

TAIPEI = dt.timezone(dt.timedelta(hours=8))
INVAPP = "/PB2CAPIVAN/invapp/InvApp"
INVSERV = "/PB2CAPIVAN/invServ/InvServ"
ACCEPTED_VERSIONS = {
    "qryInvHeader": {"0.5"},
    "qryInvDetail": {"0.5", "0.6"},
    "carrierInvChk": {"0.5", "0.6"},
    "carrierInvDetail": {"0.5"},
}
SIGNED = {"carrierInvChk", "carrierInvDetail"}
SECRET_FIELDS = {"cardEncrypt", "signature"}
NOT_ISSUED = "該筆發票並無開立"
HANG_LIMIT_S = 120.0
TIMESTAMP_PAST_SLACK_S = 60
TIMESTAMP_FUTURE_SLACK_S = 300

_INV_NUM = re.compile(r"^[A-Z]{2}\d{8}$")
_DATE = re.compile(r"^\d{4}/\d{2}/\d{2}$")


class SeedError(ValueError):
    """A seed document is malformed; the message names the field."""


# --- state -------------------------------------------------------------------------------


@dataclass
class SimItem:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclass
class SimInvoice:
    inv_num: str
    inv_date: dt.date
    random_number: str
    seller_ban: str
    seller_name: str
    amount: int
    items: list[SimItem]
    seller_address: str = ""
    invoice_time: str = "12:00:00"
    status: str = "已確認"
    buyer_ban: str = ""
    encrypt: str | None = None
    available_at: dt.datetime | None = None
    detail_available_at: dt.datetime | None = None  # listed on a carrier before its detail is

    @property
    def period(self) -> str:
        month = self.inv_date.month + self.inv_date.month % 2
        return f"{self.inv_date.year - 1911:03d}{month:02d}"


@dataclass
class SimCarrier:
    card_no: str
    verify_code: str
    invoice_numbers: list[str] = field(default_factory=list)


@dataclass
class Faults:
    latency_ms: int = 0
    server_errors: int = 0
    server_error_status: int = 503
    hang: int = 0
    bad_signature: int = 0
    rate_limit: int = 0
    http_429: int = 0
    malformed: int = 0


@dataclass
class SimState:
    app_id: str
    api_key: str
    invoices: dict[str, SimInvoice] = field(default_factory=dict)
    carriers: dict[str, SimCarrier] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    requests: list[dict[str, Any]] = field(default_factory=list)
    fixed_now: dt.datetime | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], dt.datetime] | None = None  # the real time when None (sandbox: the service's)

    def now(self) -> dt.datetime:
        if self.fixed_now is not None:
            return self.fixed_now
        return self.clock().astimezone(TAIPEI) if self.clock else dt.datetime.now(TAIPEI)

    def visible(self, inv: SimInvoice) -> bool:
        return inv.available_at is None or self.now() >= inv.available_at

    def detailed(self, inv: SimInvoice) -> bool:
        return self.visible(inv) and (inv.detail_available_at is None or self.now() >= inv.detail_available_at)


STATE: web.AppKey[SimState] = web.AppKey("mof_sim_state", SimState)


# --- seed parsing ------------------------------------------------------------------------


def _seed_str(obj: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None:
        raise SeedError(f"{where}.{key}: missing")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SeedError(f"{where}.{key}: must be a string")
    return str(value)


def _seed_date(value: Any, where: str) -> dt.date:
    text = str(value).replace("/", "").replace("-", "")
    try:
        if len(text) != 8:
            raise ValueError
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise SeedError(f"{where}: not a date (yyyy-MM-dd)") from None


def _seed_datetime(value: Any, where: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise SeedError(f"{where}: not an ISO-8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=TAIPEI)


def _seed_number(value: Any, where: str) -> str:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise SeedError(f"{where}: not a number") from None
    if isinstance(value, bool) or not number.is_finite():
        raise SeedError(f"{where}: not a number")
    return str(value)


def parse_invoice(obj: Any, where: str) -> SimInvoice:
    if not isinstance(obj, Mapping):
        raise SeedError(f"{where}: must be an object")
    inv_num = _seed_str(obj, "invNum", where)
    if not _INV_NUM.match(inv_num):
        raise SeedError(f"{where}.invNum: not an invoice number")
    items: list[SimItem] = []
    raw_items = obj.get("items", [])
    if not isinstance(raw_items, list):
        raise SeedError(f"{where}.items: must be a list")
    for i, row in enumerate(raw_items):
        w = f"{where}.items[{i}]"
        if not isinstance(row, Mapping):
            raise SeedError(f"{w}: must be an object")
        qty = _seed_number(row.get("quantity", "1"), f"{w}.quantity")
        price = _seed_number(row.get("unitPrice"), f"{w}.unitPrice")
        amount = row.get("amount")
        items.append(
            SimItem(
                description=_seed_str(row, "description", w),
                quantity=qty,
                unit_price=price,
                amount=_seed_number(amount, f"{w}.amount")
                if amount is not None
                else str(Decimal(qty) * Decimal(price)),
            )
        )
    if "amount" in obj:
        total = _seed_number(obj["amount"], f"{where}.amount")
    else:
        total = str(sum((Decimal(it.amount) for it in items), Decimal(0)))
    available, detail_available = obj.get("availableAt"), obj.get("detailAvailableAt")
    return SimInvoice(
        inv_num=inv_num,
        inv_date=_seed_date(obj.get("invDate"), f"{where}.invDate"),
        random_number=_seed_str(obj, "randomNumber", where),
        seller_ban=_seed_str(obj, "sellerBan", where),
        seller_name=_seed_str(obj, "sellerName", where),
        amount=int(Decimal(total)),
        items=items,
        seller_address=_seed_str(obj, "sellerAddress", where, ""),
        invoice_time=_seed_str(obj, "invoiceTime", where, "12:00:00"),
        status=_seed_str(obj, "invStatus", where, "已確認"),
        buyer_ban=_seed_str(obj, "buyerBan", where, ""),
        encrypt=obj.get("encrypt") if isinstance(obj.get("encrypt"), str) else None,
        available_at=None
        if available is None
        else _seed_datetime(available, f"{where}.availableAt"),
        detail_available_at=None
        if detail_available is None
        else _seed_datetime(detail_available, f"{where}.detailAvailableAt"),
    )


def apply_seed(state: SimState, doc: Any) -> dict[str, int]:
    """Add the invoices and carriers of a seed document (validated as a whole first)."""
    if not isinstance(doc, Mapping):
        raise SeedError("seed: must be a JSON object")
    raw_invoices = doc.get("invoices", [])
    raw_carriers = doc.get("carriers", [])
    if not isinstance(raw_invoices, list):
        raise SeedError("invoices: must be a list")
    if not isinstance(raw_carriers, list):
        raise SeedError("carriers: must be a list")
    invoices = [parse_invoice(obj, f"invoices[{i}]") for i, obj in enumerate(raw_invoices)]
    carriers: list[SimCarrier] = []
    for i, obj in enumerate(raw_carriers):
        where = f"carriers[{i}]"
        if not isinstance(obj, Mapping):
            raise SeedError(f"{where}: must be an object")
        carrier = SimCarrier(_seed_str(obj, "cardNo", where), _seed_str(obj, "verifyCode", where))
        entries = obj.get("invoices", [])
        if not isinstance(entries, list):
            raise SeedError(f"{where}.invoices: must be a list")
        for j, entry in enumerate(entries):
            if isinstance(entry, str):
                carrier.invoice_numbers.append(entry)
            else:
                inv = parse_invoice(entry, f"{where}.invoices[{j}]")
                invoices.append(inv)
                carrier.invoice_numbers.append(inv.inv_num)
        carriers.append(carrier)
    for inv in invoices:
        state.invoices[inv.inv_num] = inv
    for carrier in carriers:
        state.carriers[carrier.card_no] = carrier
    return {"invoices": len(invoices), "carriers": len(carriers)}


def load_seed_file(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- the simulator's own copy of the wire format -----------------------------------------


def _signature(params: Mapping[str, str], api_key: str) -> str:
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
    mac = hmac.new(api_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def _answer(version: str, code: str, msg: str, **extra: Any) -> dict[str, Any]:
    return {"v": version, "code": code, "msg": msg, **extra}


def _ok(version: str, **extra: Any) -> dict[str, Any]:
    return _answer(version, "200", "執行成功", **extra)


def _param_error(version: str, name: str) -> dict[str, Any]:
    return _answer(version, "903", f"參數錯誤({name})")


def _header_fields(inv: SimInvoice) -> dict[str, Any]:
    return {
        "invNum": inv.inv_num,
        "invDate": inv.inv_date.strftime("%Y%m%d"),
        "sellerName": inv.seller_name,
        "invStatus": inv.status,
        "invPeriod": inv.period,
        "sellerBan": inv.seller_ban,
        "sellerAddress": inv.seller_address,
        "invoiceTime": inv.invoice_time,
        "buyerBan": inv.buyer_ban,
        "currency": "",
    }


def _detail_fields(inv: SimInvoice) -> dict[str, Any]:
    rows = [
        {
            "rowNum": str(n),
            "description": it.description,
            "quantity": it.quantity,
            "unitPrice": it.unit_price,
            "amount": it.amount,
        }
        for n, it in enumerate(inv.items, start=1)
    ]
    return {**_header_fields(inv), "amount": str(inv.amount), "details": rows}


def _date_object(day: dt.date) -> dict[str, int]:
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=TAIPEI)
    return {
        "year": day.year - 1911,
        "month": day.month,
        "date": day.day,
        "day": (day.weekday() + 1) % 7,
        "hours": 0,
        "minutes": 0,
        "seconds": 0,
        "time": int(midnight.timestamp() * 1000),
        "timezoneOffset": -480,
    }


def _carrier_row(n: int, inv: SimInvoice, card_no: str) -> dict[str, Any]:
    return {
        "rowNum": n,
        "invNum": inv.inv_num,
        "cardType": "3J0002",
        "cardNo": card_no,
        "sellerName": inv.seller_name,
        "invStatus": inv.status,
        "invDonatable": True,
        "amount": inv.amount,
        "invPeriod": inv.period,
        "donateMark": 0,
        "sellerBan": inv.seller_ban,
        "sellerAddress": inv.seller_address,
        "invoiceTime": inv.invoice_time,
        "buyerBan": inv.buyer_ban,
        "currency": "",
        "invDate": _date_object(inv.inv_date),
    }


def _parse_mof_date(text: str | None) -> dt.date | None:
    if text is None or not _DATE.match(text):
        return None
    try:
        return dt.date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


# --- protocol handlers -------------------------------------------------------------------


def _invapp(state: SimState, p: Mapping[str, str]) -> dict[str, Any]:
    action = p.get("action", "")
    if action not in ("qryInvHeader", "qryInvDetail"):
        return _answer(p.get("version", ""), "904", "錯誤的查詢種類")
    version = p.get("version", "")
    if version not in ACCEPTED_VERSIONS[action]:
        return _param_error(version, "version")
    if p.get("appID") != state.app_id:
        return _answer(version, "998", "AppID 不符合規定")
    for name in ("UUID", "invNum", "invDate", "type"):
        if not p.get(name):
            return _param_error(version, name)
    if p.get("generation") != "V2":
        return _param_error(version, "generation")
    kind = p["type"]
    if kind not in ("QRCode", "Barcode"):
        return _param_error(version, "type")
    day = _parse_mof_date(p["invDate"])
    if day is None:
        return _param_error(version, "invDate")
    if not _INV_NUM.match(p["invNum"]):
        return _param_error(version, "invNum")
    inv = state.invoices.get(p["invNum"])
    found = inv is not None and inv.inv_date == day and state.visible(inv)
    if action == "qryInvHeader":
        if not found or inv is None:
            return _ok(version, invNum=p["invNum"], invStatus=NOT_ISSUED)
        return _ok(version, **_header_fields(inv))
    if not re.fullmatch(r"\d{4}", p.get("randomNumber", "")):
        return _param_error(version, "randomNumber")
    if kind == "QRCode":
        if not p.get("encrypt"):
            return _param_error(version, "encrypt")
        if not re.fullmatch(r"\d{8}", p.get("sellerID", "")):
            return _param_error(version, "sellerID")
    elif not re.fullmatch(r"\d{5}", p.get("invTerm", "")):
        return _param_error(version, "invTerm")
    if not found or inv is None or p["randomNumber"] != inv.random_number:
        return _ok(version, invNum=p["invNum"], invStatus=NOT_ISSUED)
    if kind == "QRCode" and (
        p["sellerID"] != inv.seller_ban or (inv.encrypt is not None and p["encrypt"] != inv.encrypt)
    ):
        return _ok(version, invNum=p["invNum"], invStatus=NOT_ISSUED)
    if kind == "Barcode" and p["invTerm"] != inv.period:
        return _ok(version, invNum=p["invNum"], invStatus=NOT_ISSUED)
    return _ok(version, **_detail_fields(inv))


def _invserv(state: SimState, p: Mapping[str, str]) -> dict[str, Any]:
    action = p.get("action", "")
    if action not in ("carrierInvChk", "carrierInvDetail"):
        return _answer(p.get("version", ""), "904", "錯誤的查詢種類")
    version = p.get("version", "")
    if version not in ACCEPTED_VERSIONS[action]:
        return _param_error(version, "version")
    if p.get("appID") != state.app_id:
        return _answer(version, "998", "AppID 不符合規定")
    expected = _signature(p, state.api_key)
    if not hmac.compare_digest(expected.encode(), p.get("signature", "").encode()):
        return _answer(version, "954", "簽名有誤")
    for name in ("uuid", "cardNo", "cardEncrypt", "timeStamp", "expTimeStamp"):
        if not p.get(name):
            return _param_error(version, name)
    try:
        stamp, expiry = int(p["timeStamp"]), int(p["expTimeStamp"])
    except ValueError:
        return _param_error(version, "timeStamp")
    now = int(state.now().timestamp())
    if not (now - TIMESTAMP_PAST_SLACK_S <= stamp <= now + TIMESTAMP_FUTURE_SLACK_S) or expiry < now:
        return _answer(version, "952", "有效存續時間已過")
    if p.get("cardType") != "3J0002":
        return _param_error(version, "cardType")
    carrier = state.carriers.get(p["cardNo"])
    if carrier is None or not hmac.compare_digest(
        carrier.verify_code.encode(), p["cardEncrypt"].encode()
    ):
        return _answer(version, "919", "參數驗證碼錯誤")
    mine = [
        inv
        for num in carrier.invoice_numbers
        if (inv := state.invoices.get(num)) is not None and state.visible(inv)
    ]
    if action == "carrierInvChk":
        start, end = _parse_mof_date(p.get("startDate")), _parse_mof_date(p.get("endDate"))
        if start is None:
            return _param_error(version, "startDate")
        if end is None or end < start or (start.year, start.month) != (end.year, end.month):
            return _param_error(version, "endDate")
        if p.get("onlyWinningInv") not in ("Y", "N"):
            return _param_error(version, "onlyWinningInv")
        rows = [inv for inv in mine if start <= inv.inv_date <= end]
        rows.sort(key=lambda inv: (inv.inv_date, inv.inv_num))
        return _ok(
            version,
            onlyWinningInv=p["onlyWinningInv"],
            details=[_carrier_row(n, inv, carrier.card_no) for n, inv in enumerate(rows, 1)],
        )
    day = _parse_mof_date(p.get("invDate"))
    if day is None:
        return _param_error(version, "invDate")
    if not _INV_NUM.match(p.get("invNum", "")):
        return _param_error(version, "invNum")
    for inv in mine:
        if inv.inv_num == p["invNum"] and inv.inv_date == day and state.detailed(inv):
            return _ok(version, **_detail_fields(inv))
    return _answer(version, "915", "查無此發票詳細資料")


def _redact(params: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k in SECRET_FIELDS else v) for k, v in params.items()}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _protocol(
    answer: Callable[[SimState, Mapping[str, str]], dict[str, Any]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        form = await request.post()
        params: dict[str, str] = {k: v for k, v in request.query.items()}
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        state.requests.append(
            {
                "at": state.now().isoformat(),
                "method": request.method,
                "path": request.path,
                "action": params.get("action", ""),
                "params": _redact(params),
            }
        )
        log.info("MOF sim %s %s", request.path, params.get("action", ""))
        faults = state.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.hang:
            faults.hang -= 1
            try:
                await asyncio.wait_for(state.released.wait(), HANG_LIMIT_S)
            except asyncio.TimeoutError:
                pass
            return web.Response(status=504, text="hung")
        if faults.server_errors:
            faults.server_errors -= 1
            return web.Response(status=faults.server_error_status, text="<html>Service Unavailable</html>")
        if faults.http_429:
            faults.http_429 -= 1
            return web.Response(status=429, text="Too Many Requests")
        version = params.get("version", "")
        if faults.rate_limit:
            faults.rate_limit -= 1
            return _json(_answer(version, "950", "超過最大查詢次數"))
        if faults.malformed:
            faults.malformed -= 1
            return web.Response(status=200, text='{"v":"0.5","code":"200","msg":', content_type="application/json")
        if faults.bad_signature:
            faults.bad_signature -= 1
            return _json(_answer(version, "954", "簽名有誤"))
        return _json(answer(state, params))

    return handler


# --- control API -------------------------------------------------------------------------


async def _read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"error": "body: not JSON"}), content_type="application/json")


async def _post_invoices(request: web.Request) -> web.Response:
    doc = await _read_json(request)
    if isinstance(doc, list):
        doc = {"invoices": doc}
    try:
        added = apply_seed(request.app[STATE], doc)
    except SeedError as exc:
        return _json({"error": str(exc)}, status=400)
    return _json({"added": added})


async def _reset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.invoices.clear()
    state.carriers.clear()
    state.requests.clear()
    state.faults = Faults()
    state.fixed_now = None
    return _json({"ok": True})


async def _get_requests(request: web.Request) -> web.Response:
    return _json({"requests": request.app[STATE].requests})


async def _post_faults(request: web.Request) -> web.Response:
    doc = await _read_json(request)
    state = request.app[STATE]
    if not isinstance(doc, Mapping):
        return _json({"error": "body: must be an object"}, status=400)
    names = set(Faults.__dataclass_fields__)
    for key, value in doc.items():
        if key not in names:
            return _json({"error": f"{key}: unknown fault"}, status=400)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return _json({"error": f"{key}: must be a non-negative integer"}, status=400)
        if key == "server_error_status" and not 500 <= value <= 599:
            return _json({"error": f"{key}: must be 5xx"}, status=400)
        setattr(state.faults, key, value)
    return _json(vars(state.faults))


async def _get_faults(request: web.Request) -> web.Response:
    return _json(vars(request.app[STATE].faults))


async def _post_clock(request: web.Request) -> web.Response:
    doc = await _read_json(request)
    state = request.app[STATE]
    if not isinstance(doc, Mapping):
        return _json({"error": "body: must be an object"}, status=400)
    if "advance_seconds" in doc:
        step = doc["advance_seconds"]
        if isinstance(step, bool) or not isinstance(step, (int, float)):
            return _json({"error": "advance_seconds: must be a number"}, status=400)
        state.fixed_now = state.now() + dt.timedelta(seconds=step)
    elif "now" in doc:
        if doc["now"] is None:
            state.fixed_now = None
        else:
            try:
                state.fixed_now = _seed_datetime(doc["now"], "now")
            except SeedError as exc:
                return _json({"error": str(exc)}, status=400)
    else:
        return _json({"error": "now: missing (or advance_seconds)"}, status=400)
    return _json({"now": state.now().isoformat(), "fixed": state.fixed_now is not None})


async def _get_clock(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json({"now": state.now().isoformat(), "fixed": state.fixed_now is not None})


async def _release_hung(app: web.Application) -> None:
    app[STATE].released.set()


# The simulator's own credentials, used when none are configured (sandbox mode).
SIM_APP_ID = "SIMAPPID0001"
SIM_API_KEY = "sim-api-key"


# The sandbox's demo mobile-barcode carrier: two invoices MOF details at once, one it lists but
# details later (等待驗證 at the import).
DEMO_CARRIER = ("/DEMO+01", "demo1234")
DEMO_CARRIER_LATE = dt.timedelta(seconds=50)  # the carrier re-query settles it on its 1-minute retry


def demo_carrier_seed(now: dt.datetime) -> dict[str, Any]:
    """A seed document with the demo carrier: invoices issued 3 days ago and yesterday, detailed at
    once, and one issued today whose detail MOF has from `DEMO_CARRIER_LATE` after `now`."""
    today = now.astimezone(TAIPEI).date()
    stamp = now.strftime("%H%M%S")  # a new set of numbers for each sandbox start

    def invoice(n: int, days_ago: int, amount: int, item: str, later: bool = False) -> dict[str, Any]:
        row: dict[str, Any] = {
            "invNum": f"DC{stamp}{n:02d}", "invDate": (today - dt.timedelta(days=days_ago)).isoformat(),
            "randomNumber": f"{n:04d}", "sellerBan": "53212539", "sellerName": "示範便利商店",
            "amount": str(amount), "items": [{"description": item, "quantity": "1", "unitPrice": str(amount)}],
        }
        if later:
            row["detailAvailableAt"] = (now + DEMO_CARRIER_LATE).isoformat()
        return row

    return {"carriers": [{
        "cardNo": DEMO_CARRIER[0], "verifyCode": DEMO_CARRIER[1],
        "invoices": [invoice(1, 3, 120, "拿鐵咖啡"), invoice(2, 1, 85, "鮮奶吐司"),
                     invoice(3, 0, 260, "午餐便當組", later=True)],
    }]}


def add_demo_carrier_invoice(state: SimState, now: dt.datetime, rng: random.Random | None = None) -> SimInvoice:
    """One more invoice on the demo carrier (issued today, Taipei; detailed at once): the shopper's
    next purchase, which the carrier's next import registers as new (the sandbox's 載具新增發票)."""
    carrier = state.carriers.get(DEMO_CARRIER[0])
    if carrier is None:
        carrier = state.carriers[DEMO_CARRIER[0]] = SimCarrier(*DEMO_CARRIER)
    pick = rng or random.Random()
    number = f"DN{pick.randrange(10**8):08d}"
    while number in state.invoices:
        number = f"DN{pick.randrange(10**8):08d}"
    amount = pick.choice((180, 260, 320, 450, 680))
    inv = parse_invoice({"invNum": number, "invDate": now.astimezone(TAIPEI).date().isoformat(),
                         "randomNumber": f"{pick.randrange(10**4):04d}", "sellerBan": "53212539",
                         "sellerName": "示範便利商店", "amount": str(amount),
                         "items": [{"description": "禮盒", "quantity": "1", "unitPrice": str(amount)}]},
                        "demo carrier invoice")
    state.invoices[number] = inv
    carrier.invoice_numbers.append(number)
    return inv


def create_mof_simulator(
    *, app_id: str = SIM_APP_ID, api_key: str = SIM_API_KEY, seed: Any = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> web.Application:
    """The simulator app; `seed` is a seed document ({"invoices": [...], "carriers": [...]});
    `clock` (aware datetimes) replaces the real time, e.g. the sandbox's movable clock."""
    app = web.Application()
    state = SimState(app_id=app_id, api_key=api_key, clock=clock)
    if seed is not None:
        apply_seed(state, seed)
    app[STATE] = state
    app.router.add_post(INVAPP, _protocol(_invapp))
    app.router.add_post(INVSERV, _protocol(_invserv))
    app.router.add_post("/_sim/invoices", _post_invoices)
    app.router.add_post("/_sim/reset", _reset)
    app.router.add_get("/_sim/requests", _get_requests)
    app.router.add_post("/_sim/faults", _post_faults)
    app.router.add_get("/_sim/faults", _get_faults)
    app.router.add_post("/_sim/clock", _post_clock)
    app.router.add_get("/_sim/clock", _get_clock)
    app.on_shutdown.append(_release_hung)
    return app
