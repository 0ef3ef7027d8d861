"""`python -m bot.simulators mof` starts, logs where it listens, answers, and stops."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

from bot.mof import MofClient
from flows.einvoice.model import InvoiceCode, InvoiceSource, MofError, MofErrorKind, Verified
from tests.mof.simdata import CARD_NO, VERIFY_CODE, seed

ROOT = Path(__file__).resolve().parents[2]


async def _listening_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 15)).decode()
        assert line, "simulator exited before listening"
        match = re.search(r"mof simulator listening on (http://\S+)", line)
        if match:
            return match.group(1)


async def test_cli_entry_point_serves_the_protocol(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(seed(), ensure_ascii=False), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.simulators", "mof", "--port", "0",
        "--seed-file", str(seed_file), "--app-id", "EINVCLI0000001", "--api-key", "cli-key-123",
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        url = await _listening_url(proc)
        assert url.startswith("http://127.0.0.1:")
        async with MofClient(None, url, "EINVCLI0000001", "cli-key-123", timeout=5) as client:
            outcome = await client.query_invoice(
                InvoiceCode("CD87654321", dt.date(2024, 4, 30), "0042", InvoiceSource.MANUAL)
            )
            assert isinstance(outcome, Verified) and outcome.invoice.total_amount == 60
            listed = await client.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
            assert isinstance(listed, list) and [h.invoice_number for h in listed] == ["EF00000001"]
        async with MofClient(None, url, "EINVCLI0000001", "wrong-key", timeout=5) as client:
            bad = await client.carrier_invoices(CARD_NO, VERIFY_CODE, dt.date(2024, 3, 1), dt.date(2024, 3, 31))
            assert isinstance(bad, MofError) and bad.kind is MofErrorKind.PERMANENT
    finally:
        proc.terminate()
        code = await asyncio.wait_for(proc.wait(), 10)
    assert code == 0


def test_cli_rejects_unknown_simulator_and_bad_seed(tmp_path: Path) -> None:
    unknown = subprocess.run(
        [sys.executable, "-m", "bot.simulators", "nope"], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "bot.simulators", "mof", "--seed-file", str(tmp_path / "absent.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=20,
    )
    assert missing.returncode == 2 and "absent.json" in missing.stderr
