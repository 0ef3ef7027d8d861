"""Roles: 管理員, 主管, 行銷人員 edit and delete; four are read-only; 無權限 may do nothing."""
from __future__ import annotations

import pytest

from flows.campaigns.lifecycle import CampaignStatus, ListAction, SettingsAction
from flows.campaigns.roles import (
    Permission,
    PermissionDenied,
    Role,
    can,
    permission_for,
    require,
)

EDITORS = {"管理員", "主管", "行銷人員"}


def test_the_eight_roles():
    assert [r.label for r in Role] == ["管理員", "主管", "客服經理", "客服人員", "銷售經理",
                                       "銷售人員", "行銷人員", "無權限"]
    assert Role.parse("no_access") is Role.parse("無權限") is Role.NO_ACCESS
    assert all(Role.parse(r.label) is r and Role.parse(r.value) is r for r in Role)
    with pytest.raises(ValueError):
        Role.parse("老闆")


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_can(role, permission):
    expected = role is not Role.NO_ACCESS and (permission is Permission.VIEW or role.label in EDITORS
                                               or (permission is Permission.REVIEW and role.label == "客服經理"))
    assert can(role, permission) is expected
    if expected:
        require("amy@example.com", role, permission)
    else:
        with pytest.raises(PermissionDenied) as info:
            require("amy@example.com", role, permission)
        assert str(info.value) == (f"amy@example.com（{role.label}）沒有發票活動的"
                                   f"「{permission.label}」權限")


@pytest.mark.parametrize("action,status,permission", [
    (SettingsAction.CANCEL, CampaignStatus.RUNNING, Permission.VIEW),
    (SettingsAction.BACK, CampaignStatus.ENDED, Permission.VIEW),
    (SettingsAction.SAVE, CampaignStatus.DRAFT, Permission.EDIT),
    (SettingsAction.PUBLISH, CampaignStatus.PAUSED, Permission.EDIT),
    (SettingsAction.PAUSE, CampaignStatus.RUNNING, Permission.EDIT),
    (ListAction.INFO, CampaignStatus.RUNNING, Permission.VIEW),
    (ListAction.EDIT, CampaignStatus.RUNNING, Permission.EDIT),
    (ListAction.EDIT, CampaignStatus.ENDED, Permission.VIEW),
    (ListAction.COPY, CampaignStatus.ENDED, Permission.EDIT),
    (ListAction.DELETE, CampaignStatus.DRAFT, Permission.DELETE),
])
def test_permission_for(action, status, permission):
    assert permission_for(action, status) is permission


@pytest.mark.parametrize("role", list(Role))
def test_can_with_actions(role):
    editor = role.label in EDITORS
    viewer = role is not Role.NO_ACCESS
    assert can(role, ListAction.INFO) is viewer
    assert can(role, ListAction.EDIT, CampaignStatus.ENDED) is viewer  # a read-only view
    assert can(role, ListAction.EDIT, CampaignStatus.RUNNING) is editor
    assert can(role, ListAction.DELETE, CampaignStatus.DRAFT) is editor
    assert can(role, ListAction.COPY) is editor
    assert can(role, SettingsAction.PUBLISH, CampaignStatus.DRAFT) is editor
    assert can(role, SettingsAction.PAUSE) is editor
    assert can(role, SettingsAction.CANCEL) is viewer
