"""Form mode of the message editor: a custom message as title, body, optional image and buttons
(plain text, with `{variable}` markers for the kind's variables), turned into the Jinja2 flex
template the service saves and sends — the marketer never writes JSON or Jinja.

Safety: every typed text becomes a Jinja string literal whose `"`, `\\`, `{`, `}`, `%`, `#`, `<`,
`>` and control characters are written as `\\uXXXX` escapes, and is printed through `|tojson`;
so `{{`, `{%` or `<script>` typed into a field are text in the message, never template code.
Only a marker naming one of the kind's variables (`{user_name}`) becomes a Jinja expression.
The form itself is kept in a leading Jinja comment, so a saved template opens in the form again
(unless it was edited by hand since: then only the advanced mode shows it).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flows.messages.custom import CustomKind

TITLE_MAX = 100
BODY_MAX = 2000
LABEL_MAX = 20
URL_MAX = 1000
BUTTONS_MAX = 4
ALT_SOURCE_MAX = 400  # message_templates.alt_text

MARKER = re.compile(r"\{([a-z_]+)\}")
_FORM_LINE = re.compile(r"\A\{#- form (?P<json>[^\n]*?) -#\}\n")
_ESCAPED = set('"\\{}%#<>\'')


@dataclass(frozen=True)
class FormButton:
    """A button: its label (plain text) and where it leads (an https URL or one `{variable}`)."""

    label: str
    url: str


@dataclass(frozen=True)
class MessageForm:
    """What a marketer types in form mode."""

    title: str
    body: str = ""
    image_url: str = ""
    buttons: tuple[FormButton, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "body": self.body, "image_url": self.image_url,
                "buttons": [{"label": b.label, "url": b.url} for b in self.buttons]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageForm:
        buttons = tuple(FormButton(str(b.get("label", "")), str(b.get("url", ""))) for b in data.get("buttons") or [])
        return cls(str(data.get("title", "")), str(data.get("body", "")), str(data.get("image_url", "")), buttons)


@dataclass(frozen=True)
class GeneratedTemplate:
    source: str
    alt_text: str


def url_variables(kind: CustomKind) -> tuple[str, ...]:
    """The kind's variables a button may lead to (links)."""
    return tuple(v.name for v in kind.variables if v.name.endswith(("_url", "_link")))


def _literal(text: str) -> str:
    """A Jinja string literal of `text` with every character Jinja or HTML could read escaped."""
    out = []
    for ch in text:
        out.append(f"\\u{ord(ch):04x}" if ch in _ESCAPED or ord(ch) < 0x20 or ch in "\u2028\u2029" else ch)
    return '"' + "".join(out) + '"'


def _expression(text: str, names: set[str]) -> str:
    """`text` as a Jinja expression: literals joined with the variables its markers name."""
    parts: list[str] = []
    position = 0
    for match in MARKER.finditer(text):
        if match.group(1) not in names:
            continue
        if match.start() > position:
            parts.append(_literal(text[position:match.start()]))
        name = match.group(1)
        parts.append(f'({name} if {name} is not none else "")')
        position = match.end()
    if position < len(text) or not parts:
        parts.append(_literal(text[position:]))
    return " ~ ".join(parts)


def _unknown_markers(kind: CustomKind, text: str) -> list[str]:
    names = {v.name for v in kind.variables}
    return sorted({m.group(1) for m in MARKER.finditer(text) if m.group(1) not in names})


def form_errors(kind: CustomKind, form: MessageForm) -> dict[str, str]:
    """What is wrong with a form, by field name (`title`, `body`, `image_url`, `button-N-label`,
    `button-N-url`, `buttons`), in zh-TW; {} when it may be generated."""
    errors: dict[str, str] = {}
    names = ", ".join("{" + v.name + "}" for v in kind.variables)

    def text(field_name: str, value: str, limit: int, required: bool) -> None:
        if required and not value.strip():
            errors[field_name] = "必填"
        elif len(value) > limit:
            errors[field_name] = f"最多 {limit} 個字（目前 {len(value)} 個字）"
        elif unknown := _unknown_markers(kind, value):
            errors[field_name] = f"此訊息沒有變數 {{{unknown[0]}}}；可用的變數：{names}"

    text("title", form.title, TITLE_MAX, True)
    text("body", form.body, BODY_MAX, False)
    if "title" not in errors and len(_alt_source(kind, form)) > ALT_SOURCE_MAX:
        errors["title"] = "標題含太多特殊符號，請縮短"
    if form.image_url:
        if not form.image_url.startswith("https://") or any(c.isspace() for c in form.image_url):
            errors["image_url"] = "圖片網址須以 https:// 開頭且不含空白"
        elif len(form.image_url) > URL_MAX:
            errors["image_url"] = f"網址最多 {URL_MAX} 個字"
    if len(form.buttons) > BUTTONS_MAX:
        errors["buttons"] = f"最多 {BUTTONS_MAX} 個按鈕"
    links = url_variables(kind)
    for i, button in enumerate(form.buttons, start=1):
        if not button.label.strip():
            errors[f"button-{i}-label"] = "必填"
        elif len(button.label) > LABEL_MAX:
            errors[f"button-{i}-label"] = f"最多 {LABEL_MAX} 個字"
        elif MARKER.search(button.label):
            errors[f"button-{i}-label"] = "按鈕文字不能使用變數"
        url = button.url.strip()
        marker = MARKER.fullmatch(url)
        if marker:
            if marker.group(1) not in links:
                errors[f"button-{i}-url"] = "可用的連結變數：" + "、".join("{" + n + "}" for n in links)
        elif not url.startswith("https://") or any(c.isspace() for c in url):
            errors[f"button-{i}-url"] = "請填 https:// 開頭的網址，或一個連結變數"
        elif len(url) > URL_MAX:
            errors[f"button-{i}-url"] = f"網址最多 {URL_MAX} 個字"
    return errors


def _alt_source(kind: CustomKind, form: MessageForm) -> str:
    return "{{ " + _expression(form.title, {v.name for v in kind.variables}) + " }}"


def _button(index: int, button: FormButton, names: set[str]) -> tuple[str | None, str]:
    """(the variable the button needs, or None; the button's JSON as template text)."""
    url = button.url.strip()
    marker = MARKER.fullmatch(url)
    uri = f"{marker.group(1)}|tojson" if marker else f"{_literal(url)}|tojson"
    style = "primary" if index == 0 else "secondary"
    return (marker.group(1) if marker else None,
            f'{{"type": "button", "style": "{style}", "height": "sm", "action": {{"type": "uri", '
            f'"label": {{{{ {_literal(button.label.strip())}|tojson }}}}, "uri": {{{{ {uri} }}}}}}}}')


def generate(kind: CustomKind, form: MessageForm) -> GeneratedTemplate:
    """The template (Jinja2 → flex bubble JSON) and alternative text of a valid form."""
    names = {v.name for v in kind.variables}
    meta = json.dumps(form.to_dict(), ensure_ascii=True, separators=(",", ":")).replace("#", "\\u0023")
    lines = ["{#- form " + meta + " -#}", '{%- set comma = joiner(",") %}' if form.buttons else "", "{",
             '  "type": "bubble",']
    if form.image_url:
        lines.append(f'  "hero": {{"type": "image", "url": {{{{ {_literal(form.image_url)}|tojson }}}}, '
                     '"size": "full", "aspectRatio": "20:13", "aspectMode": "cover"},')
    contents = [f'      {{"type": "text", "text": {{{{ (({_expression(form.title, names)}) or " ")|tojson }}}}, '
                '"weight": "bold", "size": "lg", "wrap": true}']
    if form.body.strip():
        contents.append(f'      {{"type": "text", "text": {{{{ (({_expression(form.body, names)}) or " ")|tojson }}}}, '
                        '"wrap": true, "size": "md"}')
    lines += ['  "body": {', '    "type": "box", "layout": "vertical", "spacing": "md",', '    "contents": [',
              ",\n".join(contents), "    ]", "  }"]
    if form.buttons:
        buttons = [_button(i, b, names) for i, b in enumerate(form.buttons)]
        needed = [n for n, _ in buttons]
        footer = ['  "footer": {', '    "type": "box", "layout": "vertical", "spacing": "sm",',
                  '    "contents": [']
        for name, text in buttons:
            item = "{{ comma() }}" + text
            footer.append(f"      {{%- if {name} %}}{item}{{%- endif %}}" if name else f"      {item}")
        footer += ["    ]", "  }"]
        if all(needed):  # every button needs a link: no footer when none has one
            lines[-1] += "{%- if " + " or ".join(dict.fromkeys(n for n in needed if n)) + " %},"
            lines += footer
            lines[-1] += "{%- endif %}"
        else:
            lines[-1] += ","
            lines += footer
    lines.append("}")
    return GeneratedTemplate("\n".join(line for line in lines if line) + "\n", _alt_source(kind, form))


def form_of(kind: CustomKind, source: str) -> MessageForm | None:
    """The form a template was generated from; None when it was written or edited by hand."""
    match = _FORM_LINE.match(source or "")
    if not match:
        return None
    try:
        form = MessageForm.from_dict(json.loads(match.group("json")))
    except (ValueError, TypeError, AttributeError):
        return None
    if form_errors(kind, form) or generate(kind, form).source != source:
        return None
    return form


_UPLOAD_BUTTONS = (FormButton("拍照上傳", "{photo_upload_url}"), FormButton("手動上傳", "{manual_upload_url}"),
                   FormButton("電子載具", "{carrier_upload_url}"))

_DEFAULT_FORMS: dict[CustomKind, MessageForm] = {
    CustomKind.QUALIFIED: MessageForm(
        "恭喜符合活動資格！",
        "{user_name} 您好，您登錄的發票 {invoice_number} 符合「{campaign_name}」活動資格。\n\n"
        "開立日期：{invoice_date}\n消費金額：{amount} 元\n\n感謝您的參與！"),
    CustomKind.NOT_QUALIFIED: MessageForm(
        "很抱歉，未符合活動資格",
        "{user_name} 您好，您登錄的發票 {invoice_number}（開立日期 {invoice_date}）未符合「{campaign_name}」"
        "的活動條件：{reason}。\n\n歡迎上傳其他發票再次參加！", buttons=_UPLOAD_BUTTONS),
    CustomKind.DUPLICATE: MessageForm(
        "此發票已登錄過",
        "{user_name} 您好，發票 {invoice_number}（開立日期 {invoice_date}）已經登錄過了，同一張發票只能參加一次活動。"
        "\n\n歡迎上傳或手動輸入其他發票參加「{campaign_name}」。", buttons=_UPLOAD_BUTTONS),
    CustomKind.UNREADABLE: MessageForm(
        "無法辨識發票",
        "{user_name} 您好，我們無法辨識您為「{campaign_name}」上傳的發票照片。"
        "請確認發票沒有折損，兩個 QR Code 完整清晰、光線充足後再拍一次，或改用手動上傳。", buttons=_UPLOAD_BUTTONS),
    CustomKind.ENDED: MessageForm(
        "活動已結束",
        "{user_name} 您好，「{campaign_name}」已於 {campaign_end} 結束，無法再登錄發票。感謝您的支持與參與！"),
    CustomKind.UNDER_REVIEW: MessageForm(
        "發票審核中",
        "{user_name} 您好，您登錄的發票 {invoice_number}（開立日期 {invoice_date}）符合「{campaign_name}」的活動條件，"
        "目前正在審核中。審核完成後，我們會立即通知您並送出獎項，請勿封鎖以免喪失權益。"),
}


def default_form(kind: CustomKind) -> MessageForm:
    """The form a kind's editor starts from: the default message's texts and buttons."""
    return _DEFAULT_FORMS[kind]
