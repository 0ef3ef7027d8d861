"""活動資訊 test data: a published campaign with uploads of every status, source and several
days, customers with names and phones, and a photo in the photo store."""
from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import dataclass

from bot.appkeys import CONFIG
from flows.campaigns.roles import Role
from tests.campaign_store.data import CREATED, add_actor, add_customer, add_phone, add_upload, settings, taipei
from tests.console.campaigns_fixtures import Console



def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 90), (240, 200, 80)).save(out, format="JPEG")
    return out.getvalue()


JPEG = _jpeg()  # a real photo, so browsers draw the thumbnail
PHOTO = "photos/9/a.jpg"

# (customer index, status, source, upload time in Taipei, invoice number)
PLAN = [
    (0, "passed", "photo", (2023, 9, 2, 10, 0), "AB00000001"),
    (0, "passed", "manual", (2023, 9, 2, 11, 0), "AB00000002"),
    (1, "invalid", "photo", (2023, 9, 2, 23, 30), "AB00000003"),
    (1, "pending", "carrier", (2023, 9, 3, 0, 30), "AB00000004"),  # the next Taipei day, 16:30 UTC the day before
    (2, "pending", "photo", (2023, 9, 3, 9, 0), "CD00000005"),
    (2, "pending", "manual", (2023, 9, 5, 9, 0), "CD00000006"),
    (3, "not_qualified", "photo", (2023, 9, 5, 10, 0), "CD00000007"),
    (3, "duplicate", "photo", (2023, 9, 5, 11, 0), "AB00000001"),
    (4, "unreadable", "photo", (2023, 9, 5, 12, 0), "XX00000000"),
]
NAMES = [("王小明", "886912000001"), ("李小華", "886912000002"), ("Amy_100%", "886912000003"),
         ("陳大文", None), ("無名", None)]


@dataclass
class InfoWorld:
    campaign_id: int
    customers: list[int]
    uploads: list[int]


async def bare_campaign(console: Console, *, timing: str = "list_only") -> int:
    """A published campaign without uploads."""
    marketer = await add_actor(console.db, f"mia-{uuid.uuid4().hex[:6]}", Role.MARKETER)
    view = await console.store.create(marketer, settings(console.channel, timing=timing), CREATED)
    await console.store.publish(marketer, view.id, CREATED)
    return view.id


async def seed_info(console: Console) -> InfoWorld:
    """A list-only campaign with the uploads of PLAN."""
    campaign_id = await bare_campaign(console)
    customers = [await add_customer(console.db, console.channel, f"U{i:032d}", name) for i, (name, _) in enumerate(NAMES)]
    for customer, (_, phone) in zip(customers, NAMES):
        await add_phone(console.db, campaign_id, customer, phone)
    uploads = []
    for who, status, source, moment, number in PLAN:
        uploads.append(await add_upload(console.db, campaign_id, customers[who], number, status=status, source=source,
                                        uploaded_at=taipei(*moment), photo_path=PHOTO if source == "photo" else None,
                                        day=dt.date(2023, 9, 1)))
    photo = console.server.app[CONFIG].data_dir / PHOTO
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(JPEG)
    return InfoWorld(campaign_id, customers, uploads)
