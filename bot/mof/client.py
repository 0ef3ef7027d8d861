"""Async aiohttp client of the MOF e-invoice API, returning plain outcomes
(Verified / NotFoundYet / MofError) instead of raising."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid as uuid_mod
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

from bot.mof import wire
from bot.storage.models import utcnow
from flows.einvoice.model import (
    CarrierInvoiceHeader,
    InvoiceCode,
    MofError,
    MofErrorKind,
    MofOutcome,
    NotFoundYet,
    Verified,
)

log = logging.getLogger(__name__)


class MofClient:
    """One app's access to the MOF API. Give it a shared session or let it own one."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        base_url: str,
        app_id: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        uuid: str | None = None,
        max_response_bytes: int = wire.MAX_RESPONSE_BYTES,
        clock: Callable[[], float] = lambda: utcnow().timestamp(),
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url: must be an http(s) URL")
        if not app_id:
            raise ValueError("app_id: missing")
        if not api_key:
            raise ValueError("api_key: missing")
        if timeout <= 0:
            raise ValueError("timeout: must be positive")
        self._session = session
        self._owns_session = session is None
        self._base_url = base_url.rstrip("/")
        self._app_id = app_id
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._uuid = uuid or uuid_mod.uuid4().hex
        self._max_bytes = max_response_bytes
        self._clock = clock

    def __repr__(self) -> str:  # never show the key
        return f"MofClient(base_url={self._base_url!r}, app_id={self._app_id!r})"

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> MofClient:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if not self._owns_session:
                raise RuntimeError("session: closed")
            self._session = aiohttp.ClientSession()
        return self._session

    # --- transport ---------------------------------------------------------------------

    async def _call(self, params: dict[str, str]) -> dict[str, Any] | MofError:
        """POST one action; the JSON object, or the transport/HTTP/JSON failure."""
        action = params["action"]
        if action in wire.SIGNED_ACTIONS:
            params["signature"] = wire.sign(params, self._api_key)
        url = self._base_url + wire.PATHS[action]
        log.debug("MOF %s request %s", action, wire.redact(params))
        try:
            async with self._get_session().post(
                url, data=params, timeout=self._timeout, allow_redirects=False
            ) as resp:
                error = wire.http_status_error(resp.status)
                if error is not None:
                    log.warning("MOF %s answered HTTP %s", action, resp.status)
                    return error
                if resp.content_length is not None and resp.content_length > self._max_bytes:
                    return MofError(MofErrorKind.TRANSIENT, "answer from MOF too large")
                body = await self._read_bounded(resp)
                if body is None:
                    return MofError(MofErrorKind.TRANSIENT, "answer from MOF too large")
        except asyncio.TimeoutError:
            log.warning("MOF %s timed out", action)
            return MofError(MofErrorKind.TRANSIENT, "timeout")
        except aiohttp.ClientError as exc:
            log.warning("MOF %s connection failed: %s", action, exc.__class__.__name__)
            return MofError(MofErrorKind.TRANSIENT, f"connection error: {exc.__class__.__name__}")
        data = wire.decode_body(body)
        if isinstance(data, MofError):
            log.warning("MOF %s: %s", action, data.message)
        else:
            log.debug("MOF %s answered code %s", action, data.get("code"))
        return data

    async def _read_bounded(self, resp: aiohttp.ClientResponse) -> bytes | None:
        """The whole body, or None once it exceeds the size limit."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65_536):
            size += len(chunk)
            if size > self._max_bytes:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def _call_classified(
        self, params: dict[str, str]
    ) -> dict[str, Any] | MofError | NotFoundYet:
        data = await self._call(params)
        if isinstance(data, MofError):
            return data
        outcome = wire.classify(data)
        if outcome is not None:
            if isinstance(outcome, MofError):
                log.warning("MOF %s: %s", params["action"], outcome.message)
            return outcome
        return data

    # --- actions -----------------------------------------------------------------------

    async def query_invoice(self, code: InvoiceCode) -> MofOutcome:
        """qryInvHeader (cheap existence check; the detail query is capped at 99 per
        invoice), then qryInvDetail for the items."""
        try:
            header_params = wire.invoice_params(wire.QRY_INV_HEADER, code, self._app_id, self._uuid)
            detail_params = wire.invoice_params(wire.QRY_INV_DETAIL, code, self._app_id, self._uuid)
        except wire.RequestInvalid as exc:
            return MofError(MofErrorKind.PERMANENT, f"invalid request: {exc}")
        header = await self._call_classified(header_params)
        if not isinstance(header, dict):
            return header
        detail = await self._call_classified(detail_params)
        if not isinstance(detail, dict):
            return detail
        return self._verified(detail, header, code.invoice_number)

    async def carrier_invoices(
        self, card_no: str, verify_code: str, start: dt.date, end: dt.date
    ) -> list[CarrierInvoiceHeader] | MofError:
        """Headers of every invoice on a mobile-barcode carrier between start and end
        (inclusive), one carrierInvChk per calendar month."""
        try:
            ranges = wire.month_ranges(start, end)
            if len(ranges) > wire.MAX_CARRIER_MONTHS:
                raise wire.RequestInvalid(f"start/end: more than {wire.MAX_CARRIER_MONTHS} months")
            wire.carrier_list_params(  # validate before any call
                card_no, verify_code, ranges[0][0], ranges[0][1], self._app_id, self._uuid, 0
            )
        except wire.RequestInvalid as exc:
            return MofError(MofErrorKind.PERMANENT, f"invalid request: {exc}")
        found: list[CarrierInvoiceHeader] = []
        for first, last in ranges:
            params = wire.carrier_list_params(
                card_no, verify_code, first, last, self._app_id, self._uuid, self._clock()
            )
            data = await self._call_classified(params)
            if isinstance(data, NotFoundYet):
                continue
            if isinstance(data, MofError):
                return data
            try:
                found.extend(wire.parse_carrier_headers(data))
            except wire.MalformedAnswer as exc:
                return MofError(MofErrorKind.TRANSIENT, f"malformed answer from MOF: {exc}")
        return found

    async def carrier_invoice_detail(
        self, card_no: str, verify_code: str, header: CarrierInvoiceHeader
    ) -> MofOutcome:
        """carrierInvDetail: one carrier invoice with its items."""
        try:
            params = wire.carrier_detail_params(
                card_no, verify_code, header, self._app_id, self._uuid, self._clock()
            )
        except wire.RequestInvalid as exc:
            return MofError(MofErrorKind.PERMANENT, f"invalid request: {exc}")
        data = await self._call_classified(params)
        if not isinstance(data, dict):
            return data
        fallback = {
            "sellerName": header.seller_name,
            "sellerBan": header.seller_ban,
            "invDate": header.date.strftime("%Y%m%d"),
            "invStatus": header.status,
            "invoiceTime": header.invoice_time,
            "invPeriod": header.period,
        }
        return self._verified(data, fallback, header.invoice_number)

    @staticmethod
    def _verified(
        detail: dict[str, Any], header: dict[str, Any], expected_number: str
    ) -> Verified | MofError:
        try:
            invoice = wire.parse_invoice(detail, header)
        except wire.MalformedAnswer as exc:
            return MofError(MofErrorKind.TRANSIENT, f"malformed answer from MOF: {exc}")
        if invoice.invoice_number != expected_number:
            return MofError(MofErrorKind.TRANSIENT, "malformed answer from MOF: invNum differs")
        return Verified(invoice)
