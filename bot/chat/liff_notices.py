"""活動尚未開始 / 活動不存在 in the chat when a LIFF page opens on a campaign that cannot take
entries (issue 28, item 8). The system message is held like any LIFF answer
(`liff_answers.hold_answer`): the page sends `page_text` as the user and the held message goes
as its reply (free), or it is pushed when that text never comes. At most one per user, campaign
and `NOTICE_EVERY` (reloading the page does not flood the chat)."""
from __future__ import annotations

import datetime as dt

from bot.chat import liff_answers
from bot.config import Config
from bot.storage.database import Database
from flows.messages.system import SystemKind, system_text

NOTICE_EVERY = dt.timedelta(minutes=10)
KIND = "liff.notice"


def page_text(campaign: str) -> str:
    """What the page sends as the user (several lines, so it may release a held answer)."""
    return f"開啟活動頁面\n活動編號：{campaign}"


async def hold_notice(db: Database, config: Config, *, channel_id: int, user_id: str, customer_id: int,
                      campaign: str, kind: SystemKind, now: dt.datetime, known: bool = True) -> list[str]:
    """Hold the system message `kind` for the user; the texts the page should send (none when
    this user was already told about this campaign in the current `NOTICE_EVERY` window). Every
    campaign id we do not know (`known=False`) counts as one, so made-up ids cannot flood."""
    if kind not in (SystemKind.NOT_STARTED, SystemKind.NOT_EXIST):
        raise ValueError(f"kind: {kind.label} is not a LIFF page notice")
    bucket = int(now.timestamp() // NOTICE_EVERY.total_seconds())
    text = page_text(campaign)
    async with db.session() as session, session.begin():
        ids = await liff_answers.hold_answer(
            session, channel_id=channel_id, to=user_id, customer_id=customer_id, texts=[text],
            messages=[{"type": "text", "text": system_text(kind)}], kind=f"{KIND}.{kind.value}",
            key=f"notice:{campaign if known else 'unknown'}:{user_id}:{bucket}", upload_id=None, now=now,
            hash_key=liff_answers.text_key(config))
    return [text] if ids else []
