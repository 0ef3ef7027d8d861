"""Whether a campaign can take a card request or an upload now, and if not which message
answers: 活動尚未開始, 活動不存在, or the custom 活動時間結束."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

from flows.conversation.instants import require_aware
from flows.messages.custom import CustomKind
from flows.messages.system import SystemKind


class Availability(str, Enum):
    """The verdict; every "not available" member names its reason."""

    OK = "ok"
    NOT_STARTED = "not_started"  # 活動尚未開始
    ENDED = "ended"  # 活動時間結束 (custom message)
    NO_CAMPAIGN = "no_campaign"  # 活動不存在: unknown or deleted campaign
    CHANNEL_UNLINKED = "channel_unlinked"  # 活動不存在 ➋ 解除串接該渠道
    NO_LIFF_ID = "no_liff_id"  # 活動不存在 ➊ 該 LINE Channel 未設定 Liff ID
    PAUSED = "paused"  # 活動不存在 ➌ 發票活動暫停
    OTHER_CHANNEL = "other_channel"  # 活動不存在 ➍ 發票模組卡片傳送至不同渠道

    @property
    def ok(self) -> bool:
        return self is Availability.OK

    @property
    def message(self) -> SystemKind | CustomKind | None:
        """The message that answers the user, None when the campaign is available."""
        if self is Availability.OK:
            return None
        if self is Availability.NOT_STARTED:
            return SystemKind.NOT_STARTED
        if self is Availability.ENDED:
            return CustomKind.ENDED
        return SystemKind.NOT_EXIST


@dataclass(frozen=True)
class ChannelFacts:
    """The LINE channel an event arrived on, as configured in this deployment."""

    channel_id: str
    linked: bool
    liff_id: str | None


@dataclass(frozen=True)
class CampaignFacts:
    """What availability needs to know about a campaign."""

    campaign_id: str
    channel_id: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    published: bool  # False: a draft
    paused: bool

    def __post_init__(self) -> None:
        require_aware(self.starts_at, "starts_at")
        require_aware(self.ends_at, "ends_at")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at: must be after starts_at")


def campaign_availability(
    campaign: CampaignFacts | None, channel: ChannelFacts, now: dt.datetime
) -> Availability:
    """Decide for a card request or an upload arriving on `channel` at `now`.

    Order: the campaign and channel must exist and match (活動不存在); drafts are always
    available (testing); then an ended campaign answers 活動時間結束 even if it was paused
    (已結束 is final); a paused one answers 活動不存在; before its start 活動尚未開始.
    The campaign time is inclusive at both ends: [starts_at, ends_at].
    """
    require_aware(now, "now")
    if campaign is None:
        return Availability.NO_CAMPAIGN
    if not channel.linked:
        return Availability.CHANNEL_UNLINKED
    if not channel.liff_id:
        return Availability.NO_LIFF_ID
    if campaign.channel_id != channel.channel_id:
        return Availability.OTHER_CHANNEL
    if not campaign.published:
        return Availability.OK
    if now > campaign.ends_at:
        return Availability.ENDED
    if campaign.paused:
        return Availability.PAUSED
    if now < campaign.starts_at:
        return Availability.NOT_STARTED
    return Availability.OK
