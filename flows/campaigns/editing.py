"""One-stop review of a settings-page action: may this status change these fields, are the edited
settings valid, and what happens to the lifecycle — the sequence the persistence layer follows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flows.campaigns.dates import today_in_taipei
from flows.campaigns.errors import CampaignSettingsError, FieldError
from flows.campaigns.lifecycle import (
    ActionRefused,
    CampaignStatus,
    Lifecycle,
    SettingsAction,
    Transition,
    apply_action,
    changed_fields,
    check_edit,
)
from flows.campaigns.settings import CampaignSettings
from flows.campaigns.validate import validate


@dataclass(frozen=True)
class Review:
    """The outcome of `review`: the transition to carry out, or every reason it is refused."""

    status: CampaignStatus  # the status before the action
    transition: Transition | None
    errors: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        return self.transition is not None and not self.errors

    def raise_for_errors(self) -> Transition:
        if not self.ok or self.transition is None:
            raise CampaignSettingsError(list(self.errors))
        return self.transition


def review(action: SettingsAction, lifecycle: Lifecycle, saved: CampaignSettings | None,
           edited: CampaignSettings, now: dt.datetime) -> Review:
    """Judge pressing `action` on the settings page.

    `saved` is the stored version (None for a campaign being created), `edited` what the page holds.
    The status is the saved campaign's. 取消/返回 need no checks. Otherwise the changed fields must be
    editable in that status (refusals become FieldErrors naming field and status), and the edited
    settings must validate on today's Taipei date; once published, an unchanged issue-date window
    is not re-checked against the 9/8-month limit.
    """
    reference = saved if saved is not None else edited
    status = lifecycle.status(reference, now)
    if action in (SettingsAction.CANCEL, SettingsAction.BACK):
        return Review(status, apply_action(action, lifecycle, reference, now))
    errors: list[FieldError] = []
    if saved is not None:
        errors += [FieldError(r.field, r.message)
                   for r in check_edit(status, changed_fields(saved, edited))]
    previous = saved if status is not CampaignStatus.DRAFT else None
    errors += validate(edited, today_in_taipei(now), previous=previous)
    if errors:
        return Review(status, None, tuple(errors))
    try:
        transition = apply_action(action, lifecycle, edited, now)
    except ActionRefused as refused:
        return Review(status, None, (FieldError("action", str(refused)),))
    return Review(status, transition)
