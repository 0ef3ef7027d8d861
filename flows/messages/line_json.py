"""Plain-data messages as LINE Messaging API message objects (JSON dicts), and the plain
text of a flex bubble (for pages that show a custom message outside the chat)."""
from __future__ import annotations

from typing import Any

from flows.messages.model import FlexMessage, Message, TextMessage, UriButton

_ALT_TEXT_LIMIT = 400


def _button(button: UriButton, primary: bool) -> dict[str, Any]:
    return {
        "type": "button",
        "style": "primary" if primary else "secondary",
        "height": "sm",
        "action": {"type": "uri", "label": button.label, "uri": button.uri},
    }


def text_bubble(text: str, buttons: tuple[UriButton, ...]) -> dict[str, Any]:
    """A bubble holding a wrapped text and, under it, one button per link."""
    bubble: dict[str, Any] = {
        "type": "bubble",
        "body": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": text, "wrap": True}],
        },
    }
    if buttons:
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [_button(b, i == 0) for i, b in enumerate(buttons)],
        }
    return bubble


def to_line_json(message: Message) -> dict[str, Any]:
    """The LINE message object: a text message, or a flex bubble when a text has buttons
    (its altText is the text itself, cut to LINE's 400 characters)."""
    if isinstance(message, TextMessage):
        if not message.buttons:
            return {"type": "text", "text": message.text}
        return {
            "type": "flex",
            "altText": message.text[:_ALT_TEXT_LIMIT],
            "contents": text_bubble(message.text, message.buttons),
        }
    if isinstance(message, FlexMessage):
        return {"type": "flex", "altText": message.alt_text, "contents": message.contents}
    raise TypeError(f"message: unsupported type {type(message).__name__}")


def flex_plain_text(contents: Any) -> str:
    """Every `text` component of a flex container, in document order, one per line."""
    texts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                texts.append(node["text"])
            for key in ("header", "hero", "body", "footer"):
                if key in node:
                    walk(node[key])
            for child in node.get("contents", []) if isinstance(node.get("contents"), list) else []:
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(contents)
    return "\n".join(texts)
