"""The campaign list counts uploads for the page's campaigns only (issue 26's 1 M-upload
benchmark): each row still gets its own count, with a status filter and across pages."""
from __future__ import annotations

from bot.campaigns.store import CampaignStore
from flows.campaigns.lifecycle import CampaignStatus
from flows.campaigns.roles import Role
from tests.campaign_store.data import CREATED, DURING, add_actor, add_channel, add_customer, add_upload, settings


async def test_every_row_of_a_filtered_page_has_its_own_count(database):
    store = CampaignStore(database)
    channel = await add_channel(database, "品牌官方帳號")
    marketer = await add_actor(database, "mia", Role.MARKETER)
    amy = await add_customer(database, channel, "Uamy")
    made = []
    for n in range(5):
        view = await store.create(marketer, settings(channel, name=f"活動 {n}"), CREATED)
        if n % 2:
            await store.publish(marketer, view.id, CREATED)
        statuses = ["passed"] * n + ["duplicate", "unreadable"]  # the last two are not counted
        for i, status in enumerate(statuses):
            await add_upload(database, view.id, amy, f"AB{n}{i:07d}", status=status)
        made.append(view.id)
    counts = {c.name: c.upload_count for c in await store.list(DURING)}
    assert counts == {f"活動 {n}": n for n in range(5)}
    drafts = await store.list(DURING, status=CampaignStatus.DRAFT)
    assert [(c.name, c.upload_count) for c in drafts] == [("活動 4", 4), ("活動 2", 2), ("活動 0", 0)]
    second = await store.list(DURING, status=CampaignStatus.RUNNING, limit=1, offset=1)
    assert [(c.name, c.upload_count, c.status) for c in second] == [("活動 1", 1, CampaignStatus.RUNNING)]
    assert await store.list(DURING, status=CampaignStatus.PAUSED) == []
    assert (await store.get(made[3], DURING)).upload_count == 3
