"""The campaign editor's HTML form: its field values from stored settings or from a POST, the
campaign-file settings dict they stand for (validated by flows.campaigns, never here), and the
form field beside which each validator path (`conditions.scope.threshold`) shows its error."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from multidict import MultiMapping

from flows.campaigns.dates import in_taipei
from flows.campaigns.errors import FieldError
from flows.campaigns.settings import (
    CampaignSettings,
    ItemsScope,
    ReviewSettings,
    Reward,
    SharedLink,
    WholeInvoiceScope,
)

Values = dict[str, Any]  # what the form shows: text per field, lists for blocks and tiers

_STEP1 = ("name", "start_at", "end_at", "rules_url", "channel_id")
_STEP2 = ("cap_mode", "per_person_cap", "issue_start", "issue_end", "sellers_mode", "sellers",
          "reward_timing", "scope_kind", "whole_measure", "whole_threshold", "combinator")
_REWARD = ("bot_name", "module_name", "coupon_kind", "coupon_url")
#: 審核's whole-number settings; with `hold_enabled` (on / off) and `reject_reasons` (one per line)
#: they are the form's `review-<name>` fields.
REVIEW_NUMBERS = ("hold_days", "photo_distance_max", "carrier_users_max", "carriers_per_user_max",
                  "burst_uploads", "burst_minutes", "appeals_per_user")
_REVIEW = tuple(f"review-{name}" for name in ("hold_enabled", *REVIEW_NUMBERS, "reject_reasons"))
REVIEW_OFFERED = "review-hold_enabled"  # posted whenever the page offered the section


def _reward_values(reward: Reward | None) -> dict[str, str]:
    if reward is None:
        return {"bot_name": "", "module_name": "", "coupon_kind": "code_pool", "coupon_url": ""}
    url = reward.coupon.url if isinstance(reward.coupon, SharedLink) else ""
    return {"bot_name": reward.bot_name, "module_name": reward.module_name,
            "coupon_kind": "shared_link" if isinstance(reward.coupon, SharedLink) else "code_pool",
            "coupon_url": url}


def blank_block() -> dict[str, Any]:
    return {"keywords": [""], "match": "any", "measure": "amount", "threshold": ""}


def blank_tier() -> dict[str, str]:
    return {"min_amount": "", **_reward_values(None)}


def _review_values(review: ReviewSettings) -> dict[str, str]:
    return {"review-hold_enabled": "on" if review.hold_enabled else "off",
            **{f"review-{name}": str(getattr(review, name)) for name in REVIEW_NUMBERS},
            "review-reject_reasons": "\n".join(review.reject_reasons)}


def blank_values() -> Values:
    """A new campaign's form."""
    return {"name": "", "start_at": "", "end_at": "", "rules_url": "", "channel_id": "",
            "cap_mode": "unlimited", "per_person_cap": "", "issue_start": "", "issue_end": "",
            "sellers_mode": "any", "sellers": "", "reward_timing": "immediate",
            "scope_kind": "whole_invoice", "whole_measure": "amount", "whole_threshold": "",
            "combinator": "and", "blocks": [blank_block()], "reward": _reward_values(None), "tiers": [],
            **_review_values(ReviewSettings())}


def _local(moment: Any) -> str:
    return in_taipei(moment).strftime("%Y-%m-%dT%H:%M")


def values_from_settings(settings: CampaignSettings) -> Values:
    """The form of a stored campaign."""
    c = settings.conditions
    values = blank_values()
    values.update(
        name=settings.name, start_at=_local(settings.start_at), end_at=_local(settings.end_at),
        rules_url=settings.rules_url, channel_id=settings.channel_id,
        cap_mode="unlimited" if c.per_person_cap is None else "limited",
        per_person_cap="" if c.per_person_cap is None else str(c.per_person_cap),
        issue_start=c.issue_dates.start.isoformat(), issue_end=c.issue_dates.end.isoformat(),
        sellers_mode="any" if c.sellers is None else "listed", sellers="\n".join(c.sellers or ()),
        reward_timing=c.reward_timing.value, reward=_reward_values(c.reward),
        tiers=[{"min_amount": str(t.min_amount), **_reward_values(t.reward)} for t in c.higher_tiers],
        **_review_values(settings.review),
    )
    if isinstance(c.scope, WholeInvoiceScope):
        values.update(scope_kind="whole_invoice", whole_measure=c.scope.measure.value,
                      whole_threshold=str(c.scope.threshold))
    elif isinstance(c.scope, ItemsScope):
        values.update(scope_kind="items", combinator=c.scope.combinator.value, blocks=[
            {"keywords": list(b.keywords) or [""], "match": b.match.value, "measure": b.measure.value,
             "threshold": str(b.threshold)} for b in c.scope.blocks])
    return values


def _indices(form: MultiMapping[str], prefix: str) -> list[int]:
    pattern = re.compile(rf"^{prefix}-(\d{{1,3}})-")
    return sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})


def values_from_form(form: MultiMapping[str], fallback: Values) -> Values:
    """The form as posted; a field the page did not offer (read-only in this status) keeps its
    `fallback` value. Blank added rows are dropped and the rows renumbered."""
    values = dict(fallback)
    for key in (*_STEP1, *_STEP2, *_REVIEW):
        if key in form:
            values[key] = str(form[key])
    if "scope_kind" in form:  # step 2 was offered: its rows come from the form
        blocks = []
        for i in _indices(form, "block"):
            keywords = [str(k) for k in form.getall(f"block-{i}-keyword", []) if str(k).strip()]
            block = {"keywords": keywords or [""], "match": str(form.get(f"block-{i}-match", "any")),
                     "measure": str(form.get(f"block-{i}-measure", "amount")),
                     "threshold": str(form.get(f"block-{i}-threshold", ""))}
            if keywords or block["threshold"].strip():
                blocks.append(block)
        values["blocks"] = blocks or [blank_block()]
        values["reward"] = {k: str(form.get(f"reward-{k}", fallback["reward"][k])) for k in _REWARD}
        tiers = []
        for i in _indices(form, "tier"):
            tier = {k: str(form.get(f"tier-{i}-{k}", "")) for k in ("min_amount", *_REWARD)}
            if tier["min_amount"].strip() or tier["bot_name"].strip() or tier["module_name"].strip():
                tiers.append(tier)
        values["tiers"] = tiers
    return values


def _number(text: str) -> int | str:
    """A whole number as an int; anything else as typed (the settings reader names the problem)."""
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 16 else text


def _reward(values: dict[str, str]) -> dict[str, Any]:
    coupon: dict[str, Any] = {"kind": values["coupon_kind"]}
    if values["coupon_kind"] == "shared_link":
        coupon["url"] = values["coupon_url"].strip()
    return {"bot_name": values["bot_name"].strip(), "module_name": values["module_name"].strip(),
            "coupon": coupon}


def _review(values: Values) -> dict[str, Any]:
    hold = values["review-hold_enabled"]
    return {"hold_enabled": {"on": True, "off": False}.get(hold, hold),
            **{name: _number(values[f"review-{name}"]) for name in REVIEW_NUMBERS},
            "reject_reasons": [line.strip() for line in values["review-reject_reasons"].splitlines() if line.strip()]}


def settings_dict(values: Values, base: CampaignSettings | None, *, with_conditions: bool = True,
                  with_review: bool = True) -> dict[str, Any]:
    """The campaign-file settings dict the form stands for (what `campaigns create --file` reads),
    keeping from `base` what the form does not hold: the image, the retention period, step 2 or
    審核 when the page did not offer them, and a time's seconds when the minute shown was left
    unchanged."""
    immediate = values["reward_timing"] != "list_only"
    if values["scope_kind"] == "items":
        scope: dict[str, Any] = {"kind": "items", "combinator": values["combinator"], "blocks": [
            {"keywords": [k.strip() for k in b["keywords"] if k.strip()], "match": b["match"],
             "measure": b["measure"], "threshold": _number(b["threshold"])} for b in values["blocks"]]}
    else:
        scope = {"kind": "whole_invoice", "measure": values["whole_measure"],
                 "threshold": _number(values["whole_threshold"])}
    sellers = [line.strip() for line in values["sellers"].splitlines() if line.strip()]
    data: dict[str, Any] = {
        "name": values["name"],
        "start_at": values["start_at"],
        "end_at": values["end_at"],
        "rules_url": values["rules_url"].strip(),
        "channel_id": values["channel_id"],
        "image_url": base.image_url if base is not None else None,
        "conditions": {
            "per_person_cap": _number(values["per_person_cap"]) if values["cap_mode"] == "limited" else None,
            "issue_dates": {"start": values["issue_start"], "end": values["issue_end"]},
            "sellers": sellers if values["sellers_mode"] == "listed" else None,
            "reward_timing": values["reward_timing"],
            "scope": scope,
            "reward": _reward(values["reward"]) if immediate else None,
            "higher_tiers": [{"min_amount": _number(t["min_amount"]),
                              "reward": _reward(t) if immediate else None} for t in values["tiers"]],
        },
        "review": _review(values),
    }
    if base is not None:
        data["retention_days"] = base.retention_days
        for key in ("start_at", "end_at"):
            if values[key] == _local(getattr(base, key)):
                data[key] = in_taipei(getattr(base, key)).isoformat()
        if not with_conditions:
            data["conditions"] = base.conditions.to_dict()
        if not with_review:
            data["review"] = base.review.to_dict()
    return data


# Validator path → form field (first match wins); \1 carries a row's index.
_FIELDS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), f) for p, f in (
    (r"^(name|start_at|end_at|rules_url|channel_id)$", r"\1"),
    (r"^conditions\.per_person_cap", "per_person_cap"),
    (r"^conditions\.issue_dates\.end", "issue_end"),
    (r"^conditions\.issue_dates", "issue_start"),
    (r"^conditions\.sellers", "sellers"),
    (r"^conditions\.reward_timing", "reward_timing"),
    (r"^conditions\.scope\.blocks\[(\d+)\]\.keywords", r"block-\1-keyword"),
    (r"^conditions\.scope\.blocks\[(\d+)\]\.(match|measure|threshold)", r"block-\1-\2"),
    (r"^conditions\.scope\.blocks", "blocks"),
    (r"^conditions\.scope\.(measure|threshold)", r"whole_\1"),
    (r"^conditions\.scope\.combinator", "combinator"),
    (r"^conditions\.scope", "scope_kind"),
    (r"^conditions\.higher_tiers\[(\d+)\]\.min_amount", r"tier-\1-min_amount"),
    (r"^conditions\.higher_tiers\[(\d+)\]\.reward\.coupon\.(url|kind)", r"tier-\1-coupon_\2"),
    (r"^conditions\.higher_tiers\[(\d+)\]\.reward\.(bot_name|module_name)", r"tier-\1-\2"),
    (r"^conditions\.higher_tiers\[(\d+)\]", r"tier-\1-bot_name"),
    (r"^conditions\.higher_tiers", "tiers"),
    (r"^conditions\.reward\.coupon\.(url|kind)", r"reward-coupon_\1"),
    (r"^conditions\.reward\.(bot_name|module_name)", r"reward-\1"),
    (r"^conditions\.reward", "reward-bot_name"),
    (r"^review\.(\w+)", r"review-\1"),
))
FORM = "form"  # errors with no field of their own (an action refused, a read-only field changed)


def form_field(path: str) -> str:
    """The form field an error of settings field `path` stands beside."""
    for pattern, field in _FIELDS:
        match = pattern.match(path)
        if match:
            return match.expand(field)
    return FORM


def errors_by_field(errors: Iterable[FieldError]) -> dict[str, list[str]]:
    """Each form field's error messages, in the validators' order."""
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(form_field(error.field), []).append(error.message)
    return found
