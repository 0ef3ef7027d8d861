"""Seed data, credentials and control-API helpers shared by the MOF client tests."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer


APP_ID = "EINV9201805241234"
API_KEY = "k3y-" + secrets.token_urlsafe(24)
CARD_NO = "/AB.1+2C"
VERIFY_CODE = "Vc9!xQ2zT7"
ENCRYPT = "Qk5GQUJDREVGR0hJSktMTU5P"  # 24 chars

QR_INVOICE: dict[str, Any] = {
    "invNum": "AB12345678",
    "invDate": "2024-03-05",
    "randomNumber": "1234",
    "sellerBan": "22555003",
    "sellerName": "統一超商股份有限公司台北市第一分公司",
    "sellerAddress": "台北市信義區市府路1號",
    "invoiceTime": "18:22:05",
    "encrypt": ENCRYPT,
    "items": [
        {"description": "拿鐵咖啡(大)", "quantity": "2", "unitPrice": "65", "amount": "130"},
        {"description": "御飯糰", "quantity": "1", "unitPrice": "35.5", "amount": "35.5"},
    ],
    "amount": "166",
}
BARCODE_INVOICE: dict[str, Any] = {
    "invNum": "CD87654321",
    "invDate": "2024/04/30",
    "randomNumber": "0042",
    "sellerBan": "53672174",
    "sellerName": "全家便利商店股份有限公司",
    "items": [{"description": "礦泉水", "quantity": "3", "unitPrice": "20"}],
}
CARRIER_MARCH: dict[str, Any] = {
    "invNum": "EF00000001",
    "invDate": "2024-03-28",
    "randomNumber": "9999",
    "sellerBan": "24792024",
    "sellerName": "好市多股份有限公司",
    "invoiceTime": "10:08:00",
    "items": [{"description": "牛奶", "quantity": "1", "unitPrice": "250"}],
}
CARRIER_APRIL: dict[str, Any] = {
    "invNum": "EF00000002",
    "invDate": "2024-04-02",
    "randomNumber": "8888",
    "sellerBan": "24792024",
    "sellerName": "好市多股份有限公司",
    "items": [
        {"description": "衛生紙", "quantity": "2", "unitPrice": "399"},
        {"description": "折扣", "quantity": "1", "unitPrice": "-100"},
    ],
}


def seed() -> dict[str, Any]:
    return {
        "invoices": [QR_INVOICE, BARCODE_INVOICE],
        "carriers": [
            {"cardNo": CARD_NO, "verifyCode": VERIFY_CODE, "invoices": [CARRIER_MARCH, CARRIER_APRIL]}
        ],
    }


def base_url(server: TestServer) -> str:
    return str(server.make_url("/"))


async def sim_post(server: TestServer, path: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.post(server.make_url(path), json=body) as r:
            return r.status, await r.json()


async def sim_requests(server: TestServer) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s:
        async with s.get(server.make_url("/_sim/requests")) as r:
            return (await r.json())["requests"]
