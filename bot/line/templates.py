"""Custom message templates (自訂訊息): Jinja2 source that marketers edit, rendered in an
immutable sandbox with StrictUndefined from the kind's named variables into a LINE flex
container; `validate_template` refuses at save time what would fail at send time.

JSON safety: every `{{ … }}` either goes through `|tojson` (a complete JSON value) or is
escaped for the inside of a JSON string by the environment's `finalize` — so a user name
holding quotes, backslashes or new lines cannot break the JSON. Save-time validation renders
with the preview values, with hostile strings and with empty values; all must give a valid
flex container within LINE's limits.

LINE limits (Messaging API reference, "Flex Message → Container"): a bubble's JSON is at most
30 KB, a carousel holds at most 12 bubbles and its JSON is at most 50 KB; a flex message's
altText is at most 1500 characters counted in UTF-16 code units, and every image, icon and video
URL must be https (https://developers.line.biz/en/reference/messaging-api/#flex-message).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from linebot.v3.messaging import FlexContainer
from markupsafe import Markup

from flows.messages.custom import CustomKind
from flows.messages.line_limits import flex_action_problems
from flows.messages.model import MAX_ALT_TEXT_LENGTH, cut_utf16, utf16_units

BUBBLE_MAX_BYTES = 30 * 1024
CAROUSEL_MAX_BYTES = 50 * 1024
CAROUSEL_MAX_BUBBLES = 12
MAX_SOURCE_CHARS = 60_000
HOSTILE_TEXT = 'He said "hi" \\ back\nslash\t<b>&\'🎉' + "長" * 40  # quotes, escapes, markup, length


class TemplateRenderError(ValueError):
    """A template failed at send time (it would not have passed validation)."""


def _json_string_finalize(value: Any) -> Any:
    """Printed values land inside JSON strings: escape them (tojson output passes as is)."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


def _plain_finalize(value: Any) -> Any:
    return "" if value is None else value


def _environment(finalize: Any) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, finalize=finalize)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env


_JSON_ENV = _environment(_json_string_finalize)
_TEXT_ENV = _environment(_plain_finalize)


def _kind(kind: CustomKind | str) -> CustomKind:
    try:
        return CustomKind(kind)
    except ValueError:
        raise ValueError(f"kind: unknown custom message kind {kind!r}") from None


def allowed_variables(kind: CustomKind | str) -> tuple[str, ...]:
    return tuple(v.name for v in _kind(kind).variables)


def _complete(kind: CustomKind, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Every allowed name defined (missing ones are None); unknown names dropped."""
    return {name: variables.get(name) for name in allowed_variables(kind)}


def _value_rounds(kind: CustomKind) -> list[tuple[str, dict[str, Any]]]:
    samples = kind.sample_variables()
    hostile = {k: (HOSTILE_TEXT if isinstance(v, str) else 99_999_999 if isinstance(v, int) else v) for k, v in samples.items()}
    empty = {k: None for k in samples}
    return [("preview values", samples), ("values with quotes and new lines", hostile), ("empty values", empty)]


def _syntax_and_names(kind: CustomKind, source: str, what: str) -> list[str]:
    try:
        ast = _JSON_ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [f"{what}: syntax error on line {exc.lineno}: {exc.message}"]
    unknown = sorted(meta.find_undeclared_variables(ast) - set(allowed_variables(kind)) - set(_JSON_ENV.globals))
    if unknown:
        allowed = ", ".join(allowed_variables(kind))
        return [f"{what}: unknown variable {name!r} (allowed: {allowed})" for name in unknown]
    return []


def container_errors(container: Any, *, actions: bool = True) -> list[str]:
    """Why a parsed JSON value is not a flex container LINE would accept ([] if it is).
    `actions`: also LINE's limits on its actions (URI schemes and lengths, texts; checked with
    the preview values only, since a URI variable holds a URI, not the hostile round's text)."""
    if not isinstance(container, dict) or container.get("type") not in ("bubble", "carousel"):
        return ["flex: the top level must be an object with \"type\": \"bubble\" or \"carousel\""]
    size = len(json.dumps(container, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    errors: list[str] = []
    if container["type"] == "bubble" and size > BUBBLE_MAX_BYTES:
        errors.append(f"flex: a bubble's JSON is {size} bytes; LINE allows at most {BUBBLE_MAX_BYTES}")
    if container["type"] == "carousel":
        bubbles = container.get("contents")
        if isinstance(bubbles, list) and len(bubbles) > CAROUSEL_MAX_BUBBLES:
            errors.append(f"flex: a carousel has {len(bubbles)} bubbles; LINE allows at most {CAROUSEL_MAX_BUBBLES}")
        if size > CAROUSEL_MAX_BYTES:
            errors.append(f"flex: a carousel's JSON is {size} bytes; LINE allows at most {CAROUSEL_MAX_BYTES}")
    errors.extend(image_url_errors(container))
    if actions:
        errors.extend(f"{path}: {reason}" for path, reason in flex_action_problems(container, "flex"))
    bubbles = [container] if container["type"] == "bubble" else container.get("contents") or []
    for i, bubble in enumerate(bubbles if isinstance(bubbles, list) else []):
        for block in ("header", "body", "footer"):
            part = bubble.get(block) if isinstance(bubble, dict) else None
            if part is not None and (not isinstance(part, dict) or part.get("type") != "box"):
                where = block if container["type"] == "bubble" else f"contents[{i}].{block}"
                errors.append(f"flex: {where} must be a box component")
    try:
        parsed = FlexContainer.from_dict(container)
    except Exception as exc:  # pydantic / Value / Key / Type errors from the SDK models
        detail = str(exc).splitlines()
        errors.append("flex: not a valid flex container: " + " ".join(d.strip() for d in detail[:3]))
    else:
        if parsed is None:
            errors.append("flex: not a valid flex container")
    return errors


_IMAGE_TYPES = {"image": ("url",), "icon": ("url",), "video": ("url", "previewUrl")}


def image_url_errors(node: Any, where: str = "flex") -> list[str]:
    """Image, icon and video URLs that are not https: LINE refuses them."""
    errors: list[str] = []
    if isinstance(node, dict):
        for key in _IMAGE_TYPES.get(node.get("type"), ()):
            url = node.get(key)
            if not (isinstance(url, str) and url.startswith("https://")):
                errors.append(f"{where}.{key}: an image URL must start with https:// (got {str(url)[:60]!r})")
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                errors.extend(image_url_errors(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            errors.extend(image_url_errors(value, f"{where}[{i}]"))
    return errors


def _render_json(source: str, values: Mapping[str, Any]) -> Any:
    text = _JSON_ENV.from_string(source).render(**values)
    return json.loads(text)


def validate_template(kind: CustomKind | str, source: str, *, alt_text: str | None = None) -> list[str]:
    """Everything wrong with a template at save time ([] = it may be saved): syntax (with
    the line), unknown variables, output that is not JSON or not a flex container, LINE's
    size limits, and the alt text (≤ 400 characters)."""
    custom = _kind(kind)
    if not isinstance(source, str) or not source.strip():
        return ["source: required"]
    if len(source) > MAX_SOURCE_CHARS:
        return [f"source: longer than {MAX_SOURCE_CHARS} characters"]
    errors = _syntax_and_names(custom, source, "template")
    if alt_text is not None:
        if not alt_text.strip():
            errors.append("alt_text: required")
        else:
            errors.extend(_syntax_and_names(custom, alt_text, "alt_text"))
    if errors:
        return errors
    for label, values in _value_rounds(custom):
        try:
            output = _JSON_ENV.from_string(source).render(**_complete(custom, values))
        except SecurityError as exc:
            return [f"template: not allowed in the sandbox: {exc}"]
        except TemplateError as exc:
            return [f"template: does not render with {label}: {exc}"]
        try:
            container = json.loads(output)
        except json.JSONDecodeError as exc:
            return [f"template: output with {label} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]
        problems = container_errors(container, actions=label == "preview values")
        if problems:
            return [f"{p} (with {label})" for p in problems]
        if alt_text is not None:
            try:
                alt = _TEXT_ENV.from_string(alt_text).render(**_complete(custom, values))
            except TemplateError as exc:
                return [f"alt_text: does not render with {label}: {exc}"]
            if label == "preview values" and utf16_units(alt) > MAX_ALT_TEXT_LENGTH:
                return [f"alt_text: {utf16_units(alt)} UTF-16 code units; LINE allows at most "
                        f"{MAX_ALT_TEXT_LENGTH}"]
            if label == "preview values" and not alt.strip():
                return ["alt_text: renders empty"]
    return []


def render_flex(kind: CustomKind | str, source: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """The flex container of a validated template for these variables.

    Raises TemplateRenderError only for a template that would not have validated."""
    custom = _kind(kind)
    try:
        container = _render_json(source, _complete(custom, variables))
    except (TemplateError, json.JSONDecodeError) as exc:
        raise TemplateRenderError(f"template: {type(exc).__name__}") from None
    problems = container_errors(container, actions=False)  # the save-time check covered them
    if problems:
        raise TemplateRenderError(problems[0])
    return container


def render_alt_text(kind: CustomKind | str, alt_text: str, variables: Mapping[str, Any]) -> str:
    """The alt text, cut to LINE's 1500 UTF-16 code units (a long user name never fails a send)."""
    custom = _kind(kind)
    try:
        text = _TEXT_ENV.from_string(alt_text).render(**_complete(custom, variables)).strip()
    except TemplateError as exc:
        raise TemplateRenderError(f"alt_text: {type(exc).__name__}") from None
    text = text or custom.label
    return cut_utf16(text, MAX_ALT_TEXT_LENGTH)


def render_message(kind: CustomKind | str, source: str, alt_text: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    """A LINE flex message object from a custom template."""
    return {
        "type": "flex",
        "altText": render_alt_text(kind, alt_text, variables),
        "contents": render_flex(kind, source, variables),
    }


def render_default_messages(kind: CustomKind | str, variables: Mapping[str, Any], *, has_coupon: bool = False) -> list[dict[str, Any]]:
    """The kind's zh-TW default messages (符合資格 sends two when a coupon is attached)."""
    custom = _kind(kind)
    return [
        render_message(custom, template.bubble, template.alt_text, variables)
        for template in custom.templates_for(has_coupon=has_coupon)
    ]
