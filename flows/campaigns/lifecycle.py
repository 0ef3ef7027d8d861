"""Campaign lifecycle: the derived status, what each status lets a marketer edit and do, and the
effects of settings-page and list-page actions (publish, pause/resume, copy, delete).

Status is derived from (published_at, paused, start_at, end_at, now), never stored. Precedence:
  never published → 草稿; past end_at → 已結束 (even when paused); paused → 暫停中 (even before
  start); before start_at → 排程中; otherwise 進行中. The campaign time is inclusive:
  start_at ≤ now ≤ end_at is 進行中.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

from flows.campaigns.settings import CampaignSettings
from flows.campaigns.validate import NAME_MAX


class CampaignStatus(str, Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> CampaignStatus:
        for status, text in _STATUS_LABELS.items():
            if text == label:
                return status
        raise ValueError(f"unknown campaign status label: {label!r}")


_STATUS_LABELS = {
    CampaignStatus.DRAFT: "草稿",
    CampaignStatus.SCHEDULED: "排程中",
    CampaignStatus.RUNNING: "進行中",
    CampaignStatus.PAUSED: "暫停中",
    CampaignStatus.ENDED: "已結束",
}


def status_of(published_at: dt.datetime | None, paused: bool, start_at: dt.datetime,
              end_at: dt.datetime, now: dt.datetime) -> CampaignStatus:
    """The campaign's status at `now` (all datetimes aware)."""
    if published_at is None:
        return CampaignStatus.DRAFT
    if now > end_at:
        return CampaignStatus.ENDED
    if paused:
        return CampaignStatus.PAUSED
    if now < start_at:
        return CampaignStatus.SCHEDULED
    return CampaignStatus.RUNNING


@dataclass(frozen=True)
class Lifecycle:
    """The only stored lifecycle facts: when it was first published, and whether it is paused."""

    published_at: dt.datetime | None = None
    paused: bool = False

    def status(self, settings: CampaignSettings, now: dt.datetime) -> CampaignStatus:
        return status_of(self.published_at, self.paused, settings.start_at, settings.end_at, now)

    def to_dict(self) -> dict[str, Any]:
        return {"published_at": self.published_at.isoformat() if self.published_at else None,
                "paused": self.paused}

    @classmethod
    def from_dict(cls, data: Any) -> Lifecycle:
        if not isinstance(data, dict) or set(data) - {"published_at", "paused"}:
            raise ValueError("lifecycle: expected an object with published_at and paused")
        raw, paused = data.get("published_at"), data.get("paused", False)
        if not isinstance(paused, bool):
            raise ValueError("lifecycle.paused: must be true or false")
        if raw is None:
            return cls(None, paused)
        if not isinstance(raw, str):
            raise ValueError("lifecycle.published_at: must be an ISO 8601 date-time")
        published = dt.datetime.fromisoformat(raw)
        if published.tzinfo is None:
            raise ValueError("lifecycle.published_at: must carry a time-zone offset")
        return cls(published, paused)


# --- editable fields ---------------------------------------------------------------------------

#: Field names used by edits: the settings' top-level names, `conditions.<name>` for step 2,
#: and `messages` (or `messages.<type>`) for the step-3 verification messages.
FIELD_LABELS: dict[str, str] = {
    "name": "活動名稱",
    "start_at": "活動時間",
    "end_at": "活動時間",
    "rules_url": "活動規則",
    "image_url": "活動圖片",
    "messages": "發票驗證訊息",
    "platform": "選擇平台",
    "channel_id": "選擇渠道",
    "conditions": "活動條件",
    "retention_days": "個資保存期限",
    "review": "審核設定",
}

#: Editable in 排程中 / 進行中 / 暫停中: 活動名稱, 活動時間, 活動規則, 活動圖片, 發票驗證訊息, and the
#: retention period (個資保存期限; after the end it changes through `CampaignStore.set_retention`),
#: and the review settings (審核設定: thresholds are tuned while abuse shows itself; issue 30).
PUBLISHED_EDITABLE = frozenset({"name", "start_at", "end_at", "rules_url", "image_url", "messages",
                                "retention_days", "review"})


def _top(field: str) -> str:
    return re.split(r"[.\[]", field, maxsplit=1)[0]


def is_editable(status: CampaignStatus, field: str) -> bool:
    """草稿: everything; 排程中/進行中/暫停中: PUBLISHED_EDITABLE; 已結束: nothing."""
    if status is CampaignStatus.DRAFT:
        return True
    if status is CampaignStatus.ENDED:
        return False
    return _top(field) in PUBLISHED_EDITABLE


@dataclass(frozen=True)
class EditRefusal:
    field: str
    status: CampaignStatus
    message: str


def check_edit(status: CampaignStatus, changed_fields: Iterable[str]) -> list[EditRefusal]:
    """One refusal per changed field the status does not allow (empty = the edit may proceed)."""
    refusals = []
    for field in sorted(set(changed_fields)):
        if is_editable(status, field):
            continue
        label = FIELD_LABELS.get(_top(field), field)
        if status is CampaignStatus.ENDED:
            message = f"活動狀態為「{status.label}」，所有欄位皆不可編輯（{label}）"
        else:
            message = f"活動狀態為「{status.label}」時不可編輯「{label}」（{field}）"
        refusals.append(EditRefusal(field, status, message))
    return refusals


def changed_fields(old: CampaignSettings, new: CampaignSettings) -> set[str]:
    """Top-level names, and `conditions.<name>` inside step 2, whose values differ."""
    changed = set()
    for f in fields(CampaignSettings):
        if f.name == "conditions":
            continue
        if getattr(old, f.name) != getattr(new, f.name):
            changed.add(f.name)
    for f in fields(old.conditions):
        if getattr(old.conditions, f.name) != getattr(new.conditions, f.name):
            changed.add(f"conditions.{f.name}")
    return changed


# --- actions -----------------------------------------------------------------------------------

class SettingsAction(str, Enum):
    """Buttons on the settings page."""

    CANCEL = "cancel"
    SAVE = "save"
    PUBLISH = "publish"
    PAUSE = "pause"
    BACK = "back"

    @property
    def label(self) -> str:
        return {"cancel": "取消", "save": "儲存", "publish": "發布", "pause": "暫停",
                "back": "返回"}[self.value]


class ListAction(str, Enum):
    """Buttons on the campaign list (EDIT on an ended campaign opens a read-only view)."""

    EDIT = "edit"
    INFO = "info"
    COPY = "copy"
    DELETE = "delete"

    @property
    def label(self) -> str:
        return {"edit": "編輯", "info": "發票活動資訊", "copy": "複製活動", "delete": "刪除"}[self.value]


_S, _L = SettingsAction, ListAction
SETTINGS_ACTIONS: dict[CampaignStatus, tuple[SettingsAction, ...]] = {
    CampaignStatus.DRAFT: (_S.CANCEL, _S.SAVE, _S.PUBLISH),
    CampaignStatus.SCHEDULED: (_S.CANCEL, _S.PAUSE, _S.PUBLISH),
    CampaignStatus.RUNNING: (_S.CANCEL, _S.PAUSE, _S.PUBLISH),
    CampaignStatus.PAUSED: (_S.CANCEL, _S.SAVE, _S.PUBLISH),
    CampaignStatus.ENDED: (_S.BACK,),
}
LIST_ACTIONS: dict[CampaignStatus, tuple[ListAction, ...]] = {
    CampaignStatus.DRAFT: (_L.EDIT, _L.INFO, _L.COPY, _L.DELETE),
    CampaignStatus.SCHEDULED: (_L.EDIT, _L.INFO, _L.COPY),
    CampaignStatus.RUNNING: (_L.EDIT, _L.INFO, _L.COPY),
    CampaignStatus.PAUSED: (_L.EDIT, _L.INFO, _L.COPY),
    CampaignStatus.ENDED: (_L.EDIT, _L.INFO, _L.COPY),
}


def edit_is_view_only(status: CampaignStatus) -> bool:
    """已結束: 編輯 opens the settings read-only."""
    return status is CampaignStatus.ENDED


def can_delete(status: CampaignStatus) -> bool:
    """Only drafts can be deleted."""
    return ListAction.DELETE in LIST_ACTIONS[status]


class ActionRefused(Exception):
    """An action the campaign's status does not offer (or that cannot succeed now)."""

    def __init__(self, action: SettingsAction | ListAction, status: CampaignStatus,
                 message: str) -> None:
        self.action, self.status = action, status
        super().__init__(message)


def require_list_action(action: ListAction, status: CampaignStatus) -> None:
    if action not in LIST_ACTIONS[status]:
        raise ActionRefused(action, status,
                            f"活動狀態為「{status.label}」時不可執行「{action.label}」")


@dataclass(frozen=True)
class Transition:
    """What a settings-page action does; the persistence layer carries out the flags."""

    lifecycle: Lifecycle
    save_settings: bool  # store the edited settings (after check_edit + validate)
    reset_draft_uploads: bool = False  # delete every upload made while it was a draft


def apply_action(action: SettingsAction, lifecycle: Lifecycle, settings: CampaignSettings,
                 now: dt.datetime) -> Transition:
    """The effect of pressing `action` with `settings` (as edited) at `now`.

    取消/返回 discard edits. 儲存 stores them. 發布: a draft becomes published (published_at = now)
    and its draft-period uploads are reset; a paused campaign resumes; 排程中/進行中 publish edits.
    暫停 pauses (and keeps the edits on the page). Publishing a campaign whose end time has
    passed is refused.
    """
    status = lifecycle.status(settings, now)
    if action not in SETTINGS_ACTIONS[status]:
        raise ActionRefused(action, status,
                            f"活動狀態為「{status.label}」時不可執行「{action.label}」")
    if action in (SettingsAction.CANCEL, SettingsAction.BACK):
        return Transition(lifecycle, save_settings=False)
    if action is SettingsAction.SAVE:
        return Transition(lifecycle, save_settings=True)
    if action is SettingsAction.PAUSE:
        return Transition(replace(lifecycle, paused=True), save_settings=True)
    # PUBLISH
    if status is CampaignStatus.DRAFT:
        if now > settings.end_at:
            raise ActionRefused(action, status, "活動結束時間已過，請先修改活動時間（end_at）再發布")
        return Transition(Lifecycle(published_at=now, paused=False), save_settings=True,
                          reset_draft_uploads=True)
    return Transition(replace(lifecycle, paused=False), save_settings=True)


COPY_SUFFIX = "（複本）"


def copy_campaign(settings: CampaignSettings) -> tuple[CampaignSettings, Lifecycle]:
    """複製活動: the same settings under 「<name>（複本）」, as a new, unpublished, unpaused draft."""
    base = settings.name.strip()[: NAME_MAX - len(COPY_SUFFIX)]
    return replace(settings, name=base + COPY_SUFFIX), Lifecycle()


class UploadGate(str, Enum):
    """Whether a campaign takes uploads now, and if not which message the user gets."""

    ACCEPT = "accept"
    NOT_STARTED = "not_started"  # system message 活動尚未開始
    GONE = "gone"  # system message 活動不存在 (paused)
    ENDED = "ended"  # custom message 活動時間結束


def upload_gate(status: CampaignStatus) -> UploadGate:
    """草稿 accepts test uploads (reset on publish) and 進行中 accepts; the rest refuse."""
    return {
        CampaignStatus.DRAFT: UploadGate.ACCEPT,
        CampaignStatus.RUNNING: UploadGate.ACCEPT,
        CampaignStatus.SCHEDULED: UploadGate.NOT_STARTED,
        CampaignStatus.PAUSED: UploadGate.GONE,
        CampaignStatus.ENDED: UploadGate.ENDED,
    }[status]
