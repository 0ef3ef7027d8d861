"""`admin-cli invoice …`: e-invoice tools for operators (decode invoice photos, parse code texts)."""
from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from admin_cli.context import load_config
from admin_cli.output import add_row, json_text, plain, print_table, table

if TYPE_CHECKING:
    from bot.photo_decoding import PhotoDecoder
    from flows.einvoice.model import InvoiceCode

invoice_app = typer.Typer(
    help="E-invoice tools: read invoice photos and code texts as the bot does.",
    no_args_is_help=True,
)


def _number(value: Decimal) -> int | float:
    """JSON number: an int when integral, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def code_as_json(file: str, code: InvoiceCode) -> dict[str, Any]:
    """The SPEC §11 object for one decoded image."""
    return {
        "file": file,
        "invoice_number": code.invoice_number,
        "date": code.date.isoformat() if code.date else None,
        "random_code": code.random_code,
        "sales_amount": code.sales_amount,
        "total_amount": code.total_amount,
        "buyer_ban": code.buyer_ban,
        "seller_ban": code.seller_ban,
        "items": [
            {"name": item.name, "quantity": _number(item.quantity), "unit_price": _number(item.unit_price)}
            for item in code.items
        ],
    }


async def decode_file(path: Path, decoder: PhotoDecoder) -> dict[str, Any]:
    """Decode one image file into the JSON object (or `{"file", "error"}`), within the
    decoder's memory budget as the service does."""
    from flows.einvoice.photo import MAX_FILE_BYTES

    file = str(path)
    try:
        if not path.is_file():
            return {"file": file, "error": "no such file"}
        if path.stat().st_size > MAX_FILE_BYTES:
            return {"file": file, "error": f"file too large (limit {MAX_FILE_BYTES} bytes)"}
        data = path.read_bytes()
    except OSError as error:
        return {"file": file, "error": f"cannot read file ({error.strerror or type(error).__name__})"}
    result = await decoder.decode(data)
    if result.code is None:
        return {"file": file, "error": result.error or "unreadable"}
    return code_as_json(file, result.code)


@invoice_app.command("decode")
def decode(
    images: Annotated[list[Path], typer.Argument(help="Invoice photos (JPEG, PNG, WebP or any image Pillow reads)")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per image per line")] = False,
) -> None:
    """Read the e-invoice QR codes (or barcode) in each photo. Exit 1 if any image failed."""
    import asyncio

    from rich.text import Text

    from bot.photo_decoding import MIB, PhotoDecoder
    from flows.einvoice.codes import display_number

    budget = load_config().decode_memory_mb * MIB  # DECODE_MEMORY_MB, as in the service

    async def decode_all() -> list[dict[str, Any]]:
        decoder = PhotoDecoder(budget)
        return [await decode_file(path, decoder) for path in images]

    results = asyncio.run(decode_all())
    if as_json:
        for result in results:
            typer.echo(json_text(result))
    else:
        grid = table("File", "Invoice", "Date", "Random", "Total", "Seller BAN", "Items", "Result",
                     title="E-invoice photos")
        for result in results:
            if "error" in result:
                add_row(grid, result["file"], "", "", "", "", "", "", Text(plain(result["error"]), style="red"))
                continue
            add_row(
                grid,
                result["file"],
                display_number(result["invoice_number"]),
                result["date"] or "",
                result["random_code"] or "",
                "" if result["total_amount"] is None else str(result["total_amount"]),
                result["seller_ban"] or "",
                str(len(result["items"])),
                Text("ok", style="green"),
            )
        print_table(grid)
    if any("error" in result for result in results):
        raise typer.Exit(code=1)


@invoice_app.command("parse")
def parse(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines in and out (the only form)")] = False,
) -> None:
    """Parse e-invoice code texts: JSON lines on stdin, each with `left` or `left_hex`, `right` or
    `right_hex`, and/or `barcode`; one JSON object per line out (the `invoice decode` fields plus
    period, items_complete and notes, or {"error"}). Exit 1 if any line failed."""
    from admin_cli.invoice_parse import parse_lines

    if not as_json:
        typer.echo("error: --json is required (input and output are JSON lines)", err=True)
        raise typer.Exit(code=2)
    failed = False
    for result in parse_lines(sys.stdin):
        failed = failed or "error" in result
        typer.echo(json_text(result))
    if failed:
        raise typer.Exit(code=1)
