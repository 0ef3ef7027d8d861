"""LINE's documented limits on the actions inside a flex message (Messaging API reference, action
objects): URI schemes and length, label length, message text and postback data lengths. One list
of (property, reason) problems, used by the save-time check and by the LINE simulator alike."""
from __future__ import annotations

from typing import Any

from flows.messages.model import MAX_BUTTON_LABEL_LENGTH, MAX_URI_LENGTH

URI_SCHEMES = ("http://", "https://", "line://", "tel:")
MAX_ACTION_TEXT = 300  # message action `text`, postback `data` and `displayText`


def _too_long(value: Any, limit: int) -> bool:
    return isinstance(value, str) and len(value) > limit


def action_problems(action: Any) -> list[tuple[str, str]]:
    """What LINE would refuse in one action object: [(property under the action, reason)]."""
    if not isinstance(action, dict):
        return [("", "an action must be an object")]
    problems: list[tuple[str, str]] = []
    if _too_long(action.get("label"), MAX_BUTTON_LABEL_LENGTH):
        problems.append(("label", f"at most {MAX_BUTTON_LABEL_LENGTH} characters"))
    kind = action.get("type")
    if kind == "uri":
        uri = action.get("uri")
        if not isinstance(uri, str) or not uri:
            problems.append(("uri", "required"))
        elif not uri.lower().startswith(URI_SCHEMES):
            problems.append(("uri", "must start with http://, https://, line:// or tel: "
                                    f"(got {uri[:40]!r})"))
        elif len(uri) > MAX_URI_LENGTH:
            problems.append(("uri", f"at most {MAX_URI_LENGTH} characters ({len(uri)})"))
        desktop = (action.get("altUri") or {}).get("desktop") if isinstance(action.get("altUri"), dict) else None
        if desktop is not None and (not isinstance(desktop, str) or not desktop.lower().startswith(URI_SCHEMES[:3])
                                    or len(desktop) > MAX_URI_LENGTH):
            problems.append(("altUri.desktop", f"must be an http(s) or line URI of at most {MAX_URI_LENGTH} characters"))
    elif kind == "message":
        problems.extend(_required_text(action, "text"))
    elif kind == "postback":
        problems.extend(_required_text(action, "data"))
        if _too_long(action.get("displayText"), MAX_ACTION_TEXT):
            problems.append(("displayText", f"at most {MAX_ACTION_TEXT} characters"))
    return problems


def _required_text(action: dict[str, Any], key: str) -> list[tuple[str, str]]:
    value = action.get(key)
    if not isinstance(value, str) or not value:
        return [(key, "required")]
    if len(value) > MAX_ACTION_TEXT:
        return [(key, f"at most {MAX_ACTION_TEXT} characters ({len(value)})")]
    return []


def flex_action_problems(node: Any, where: str) -> list[tuple[str, str]]:
    """Every action in a flex container (components' and boxes' `action`), as (path, reason)."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "action":
                found.extend((f"{where}.action" + (f".{prop}" if prop else ""), reason)
                             for prop, reason in action_problems(value))
            elif isinstance(value, (dict, list)):
                found.extend(flex_action_problems(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(flex_action_problems(value, f"{where}[{i}]"))
    return found
