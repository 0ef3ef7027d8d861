"""Team roles and what each may do with invoice campaigns (角色權限).

管理員, 主管, 行銷人員: 編輯 and 刪除. 客服經理, 客服人員, 銷售經理, 銷售人員: read-only (they may
view lists, details, statistics and exports, never change anything). 無權限 (NO_ACCESS): nothing
at all, not even a view: no campaign, no participant, no export. 審核 (issue 30: approve, reject,
correct, undo in the review queue): the three editing roles and 客服經理; the others only view it.
"""
from __future__ import annotations

from enum import Enum

from flows.campaigns.lifecycle import CampaignStatus, ListAction, SettingsAction, edit_is_view_only


class Role(str, Enum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    SUPPORT_MANAGER = "support_manager"
    SUPPORT_AGENT = "support_agent"
    SALES_MANAGER = "sales_manager"
    SALES_AGENT = "sales_agent"
    MARKETER = "marketer"
    NO_ACCESS = "no_access"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> Role:
        for role, text in _ROLE_LABELS.items():
            if text == label:
                return role
        raise ValueError(f"unknown role label: {label!r}")

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its value (`marketer`) or its zh-TW label (`行銷人員`)."""
        try:
            return cls(text)
        except ValueError:
            return cls.from_label(text)


_ROLE_LABELS = {
    Role.ADMIN: "管理員",
    Role.SUPERVISOR: "主管",
    Role.SUPPORT_MANAGER: "客服經理",
    Role.SUPPORT_AGENT: "客服人員",
    Role.SALES_MANAGER: "銷售經理",
    Role.SALES_AGENT: "銷售人員",
    Role.MARKETER: "行銷人員",
    Role.NO_ACCESS: "無權限",
}


class Permission(str, Enum):
    """VIEW: list, info, statistics, exports. EDIT: create, save, publish, pause, copy, message
    templates, coupon imports. DELETE: delete a draft."""

    VIEW = "view"
    EDIT = "edit"
    DELETE = "delete"
    REVIEW = "review"  # decide in the review queue (bot/review)

    @property
    def label(self) -> str:
        return {"view": "檢視", "edit": "編輯", "delete": "刪除", "review": "審核"}[self.value]


EDITORS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.MARKETER})
REVIEWERS = EDITORS | {Role.SUPPORT_MANAGER}


def can(role: Role, action: Permission | SettingsAction | ListAction,
        status: CampaignStatus | None = None) -> bool:
    """True when `role` may do `action` (a permission, or a settings/list action; `status` matters
    only for 編輯 on an ended campaign, which merely views)."""
    if role is Role.NO_ACCESS:
        return False
    permission = action if isinstance(action, Permission) else permission_for(action, status)
    if permission is Permission.VIEW:
        return True
    if permission is Permission.REVIEW:
        return role in REVIEWERS
    return role in EDITORS


class PermissionDenied(Exception):
    """A role without rights tried a mutating action; names the actor, role and action."""

    def __init__(self, actor: str, role: Role, permission: Permission) -> None:
        self.actor, self.role, self.permission = actor, role, permission
        super().__init__(f"{actor}（{role.label}）沒有發票活動的「{permission.label}」權限")


def require(actor: str, role: Role, permission: Permission) -> None:
    """Raise PermissionDenied unless `role` may do `permission`."""
    if not can(role, permission):
        raise PermissionDenied(actor, role, permission)


def permission_for(action: SettingsAction | ListAction,
                   status: CampaignStatus | None = None) -> Permission:
    """The permission an action needs: 取消/返回/資訊 view; 儲存/發布/暫停/複製 edit; 刪除 delete;
    編輯 edits, except on an ended campaign where it only views."""
    if action in (SettingsAction.CANCEL, SettingsAction.BACK, ListAction.INFO):
        return Permission.VIEW
    if action is ListAction.DELETE:
        return Permission.DELETE
    if action is ListAction.EDIT and status is not None and edit_is_view_only(status):
        return Permission.VIEW
    return Permission.EDIT
