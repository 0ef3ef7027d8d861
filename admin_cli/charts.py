"""Uploads per day by status (`reports stats`): stacked bars in the terminal, and the same chart as a PNG."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from rich.console import Console, Group, RenderableType
from rich.text import Text

from bot.campaigns.day_chart import RGB
from bot.campaigns.stats import DAY_STATUSES, DayCounts
from flows.campaigns.rules import UploadStatus

#: One mark and colour per status, so the bars read without colour too (NO_COLOR, a pipe).
MARKS = {UploadStatus.PASSED: "█", UploadStatus.INVALID: "▓", UploadStatus.PENDING: "▒",
         UploadStatus.NOT_QUALIFIED: "░"}
STYLES = {UploadStatus.PASSED: "green", UploadStatus.INVALID: "red", UploadStatus.PENDING: "yellow",
          UploadStatus.NOT_QUALIFIED: "magenta"}


def _segments(counts: Sequence[int], cells: int, scale_max: int) -> list[int]:
    """Cells per status for a bar `cells` wide at `scale_max`: cumulative rounding keeps the bar's
    length exact, and a status with any uploads gets at least one cell when the bar has room."""
    widths, done, running = [], 0, 0
    for count in counts:
        running += count
        end = round(running * cells / scale_max) if scale_max else 0
        widths.append(end - done)
        done = end
    for i, count in enumerate(counts):
        if count and not widths[i]:
            donor = max(range(len(widths)), key=lambda j: widths[j])
            if widths[donor] > 1:
                widths[donor] -= 1
                widths[i] = 1
    return widths


def legend() -> Text:
    text = Text()
    for status in DAY_STATUSES:
        if text:
            text.append("  ")
        text.append(MARKS[status] * 2, style=STYLES[status])
        text.append(f" {status.label}")
    return text


def terminal_chart(days: Sequence[DayCounts], width: int) -> RenderableType:
    """One line per day: `MM-DD ███▓▒░ total`, bars scaled to the busiest day and to `width`."""
    heading = Text("每日上傳發票數（依狀態）", style="bold")
    if not days:
        return Group(heading, Text("（尚無上傳）"))
    peak = max(d.total for d in days)
    number = len(str(peak))
    label = 10 if days[0].day.year != days[-1].day.year else 5  # YYYY-MM-DD or MM-DD
    cells = max(10, width - label - number - 3)
    lines: list[RenderableType] = [heading, legend()]
    for day in days:
        line = Text(day.day.isoformat()[-label:] + " ")
        for status, cell_count in zip(DAY_STATUSES, _segments(day.counts, cells, peak)):
            line.append(MARKS[status] * cell_count, style=STYLES[status])
        line.append(" " + str(day.total).rjust(number if day.total else 1))
        lines.append(line)
    return Group(*lines)


def print_chart(days: Sequence[DayCounts], out: Console) -> None:
    out.print(terminal_chart(days, out.width), soft_wrap=False)


# --- PNG ---------------------------------------------------------------------------------------------

_KNOWN_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKtc-Regular.otf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def cjk_font_file() -> str | None:
    """A font that can draw Traditional Chinese: fontconfig's first `:lang=zh-tw` font, else a
    known Debian path (fonts-noto-cjk, fonts-arphic-uming, fonts-wqy-microhei); None when none is
    installed."""
    if shutil.which("fc-list"):
        try:
            found = subprocess.run(["fc-list", ":lang=zh-tw", "file"], capture_output=True, text=True,
                                   timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            found = ""
        files = sorted(line.split(":")[0].strip() for line in found.splitlines() if line.strip())
        if files:
            return files[0]
    return next((path for path in _KNOWN_CJK_FONTS if Path(path).is_file()), None)


def _font(file: str | None, size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    if file:
        return ImageFont.truetype(file, size)
    return ImageFont.load_default(size)


def write_png(days: Sequence[DayCounts], titles: tuple[str, str], path: Path, font_file: str | None = None) -> bool:
    """Draw the per-day chart (stacked columns, one per day) into a PNG at `path`. With a CJK font
    (found, or given) the title is `titles[0]` and the legend the zh-TW status names; without
    one, `titles[1]` and the status codes. Returns whether zh-TW labels were drawn."""
    font_file = font_file or cjk_font_file()
    cjk = font_file is not None
    names = {s: (s.label if cjk else s.value) for s in DAY_STATUSES}
    heading = titles[0] if cjk else titles[1]
    big, small = _font(font_file, 22), _font(font_file, 14)

    count = max(1, len(days))
    column = max(8, min(40, 1100 // count))
    left, right, top, bottom = 70, 30, 90, 70
    plot_h = 360
    width = max(640, left + right + count * column)
    height = top + plot_h + bottom
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 16), heading, fill="black", font=big)

    x = left
    for status in DAY_STATUSES:  # legend
        draw.rectangle((x, 56, x + 14, 70), fill=RGB[status])
        draw.text((x + 20, 54), names[status], fill="black", font=small)
        x += 40 + int(draw.textlength(names[status], font=small))

    peak = max((d.total for d in days), default=0) or 1
    base = top + plot_h
    draw.line((left, top, left, base), fill="black")
    draw.line((left, base, width - right, base), fill="black")
    for step in range(5):  # y axis: 0, ¼, ½, ¾, peak
        value = round(peak * step / 4)
        y = base - plot_h * value / peak
        draw.line((left - 5, y, left, y), fill="black")
        draw.text((left - 10, y), str(value), fill="black", font=small, anchor="rm")

    every = max(1, -(-count * 80 // (width - left - right)))  # a date label every n columns
    for index, day in enumerate(days):
        x0 = left + index * column + 2
        y = base
        for status, value in zip(DAY_STATUSES, day.counts):
            if value:
                h = plot_h * value / peak
                draw.rectangle((x0, y - h, x0 + column - 4, y), fill=RGB[status])
                y -= h
        if index % every == 0:
            draw.text((x0 + (column - 4) / 2, base + 8), day.day.strftime("%m-%d"), fill="black", font=small,
                      anchor="mt")
    if not days:
        draw.text((left + 20, top + plot_h / 2), "（尚無上傳）" if cjk else "no uploads yet", fill="gray", font=small)
    image.save(path, format="PNG")
    return cjk
