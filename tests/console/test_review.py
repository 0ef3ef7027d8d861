"""審核佇列 over HTTP on both databases: the queue's filters, counts, pages and bad filters; one
upload's photo, MOF record, evidence, appeal and history; approve, reject with a reason,
correct (the rules run again), undo, the answer when someone decided first; bulk decisions
with their users count and second confirmation; roles and CSRF; the held state in 活動資訊."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.storage.models import AuditEntry, OutgoingMessage, Reward, ReviewDecision, Upload
from console.pages import review as review_page
from flows.campaigns.roles import Role
from tests.console.review_fixtures import APPEAL_NOTE, seed_review


@pytest.fixture
async def data(console_app):
    return await seed_review(console_app)


def uploads_listed(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<tr data-upload="(\d+)"', html)]


async def _upload(app, upload_id):
    async with app.db.session() as s:
        upload = await s.get(Upload, upload_id)
        reward = await s.scalar(select(Reward).where(Reward.upload_id == upload_id))
        return upload, reward


async def test_the_queue_lists_those_waiting_oldest_first_with_counts(console_app, console_client, data):
    agent = await console_client(Role.SUPPORT_AGENT)  # views, never decides
    response = await agent.get("/console/review")
    html = await response.text()
    assert response.status == 200
    assert uploads_listed(html) == [*data.amy_flagged, data.bob_flagged, data.appealed]
    assert "待審核 3 筆" in html and "申訴待審 1 筆" in html
    assert "短時間大量上傳" in html and APPEAL_NOTE[:20] in html
    assert 'name="upload"' not in html and "review/bulk" not in html  # no decisions offered to a viewer
    assert "審核佇列" in html  # in the navigation


@pytest.mark.parametrize("query,expected", [
    ("signal=burst", "flagged"),
    ("signal=same_photo", "none"),
    ("age=1d", "amy"),
    ("age=7d", "none"),
    ("state=appealed", "appealed"),
    ("state=held", "held"),
])
async def test_filters(console_app, console_client, data, query, expected):
    agent = await console_client(Role.SUPPORT_AGENT)
    html = await (await agent.get(f"/console/review?{query}&campaign={data.campaign_id}")).text()
    want = {"flagged": [*data.amy_flagged, data.bob_flagged], "none": [], "amy": data.amy_flagged,
            "appealed": [data.appealed], "held": data.held}[expected]
    assert uploads_listed(html) == want
    other = await (await agent.get(f"/console/review?{query}&campaign={data.campaign_id + 999}")).text()
    assert uploads_listed(other) == []


@pytest.mark.parametrize("query,field", [("campaign=abc", "campaign"), ("signal=gossip", "signal"),
                                         ("age=2w", "age"), ("state=lost", "state"), ("cursor=bm90IGEgY3Vyc29y", "cursor")])
async def test_bad_filters_are_named_beside_their_field(console_app, console_client, data, query, field):
    agent = await console_client(Role.SUPPORT_AGENT)
    response = await agent.get(f"/console/review?{query}")
    html = await response.text()
    assert response.status == 400
    assert uploads_listed(html) == []
    if field != "cursor":
        assert re.search(rf'<div class="error" id="{field}-error">[^<]+</div>', html)
    else:
        assert "分頁位置無效" in html


async def test_pages_follow_the_cursor(console_app, console_client, data, monkeypatch):
    monkeypatch.setattr(review_page, "PER_PAGE", 2)
    agent = await console_client(Role.SUPPORT_AGENT)
    seen, path = [], "/console/review"
    while path:
        html = await (await agent.get(path)).text()
        seen += uploads_listed(html)
        found = re.search(r'<a rel="next" href="([^"]+)"', html)
        path = found.group(1).replace("&amp;", "&") if found else None
    assert seen == [*data.amy_flagged, data.bob_flagged, data.appealed]


async def test_one_upload_photo_record_evidence_appeal(console_app, console_client, data):
    agent = await console_client(Role.SUPPORT_AGENT)
    response = await agent.get(f"/console/review/{data.amy_flagged[0]}")
    html = await response.text()
    assert response.status == 200
    assert "此使用者在 10 分鐘內上傳了 2 張發票（上限 1 張）" in html  # the evidence in words
    assert "RV00000002" in html and "全通路股份有限公司" in html and "82910724" in html and "全通路紅茶" in html
    assert "<td>3</td><td>1000</td><td>3000</td>" in html  # as people write them, not 3.0000
    photo = re.search(r'<img id="photo" src="([^"]+)"', html).group(1).replace("&amp;", "&")
    got = await agent.get(photo)
    assert got.status == 200 and got.headers["Content-Type"] == "image/jpeg"
    assert 'id="approve-form"' not in html  # a viewer sees no decision forms
    assert re.search(r'<a rel="next" id="next" href="/console/review/(\d+)', html).group(1) == str(data.amy_flagged[1])
    appeal = await (await agent.get(f"/console/review/{data.appealed}")).text()
    assert APPEAL_NOTE in appeal and "統編發票不在活動範圍" in appeal
    assert (await agent.get("/console/review/987654321")).status == 404


async def test_approve_goes_to_the_next_upload_and_is_audited(console_app, console_client, data):
    manager = await console_client(Role.SUPPORT_MANAGER)
    first, second = data.amy_flagged
    response = await manager.post(f"/console/review/{first}/approve", {"campaign": str(data.campaign_id)})
    assert response.status == 303
    assert response.headers["Location"] == (f"/console/review/{second}?campaign={data.campaign_id}"
                                            f"&done=approve&of={first}")
    upload, reward = await _upload(console_app, first)
    assert upload.review_state == "approved" and reward.state == "given" and reward.coupon_code.startswith("WINTER-")
    async with console_app.db.session() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "review.approve"))
    assert entry.actor_id == manager.user.id
    html = await (await manager.get(response.headers["Location"])).text()
    assert f"已核准上傳 #{first}" in html
    again = await manager.post(f"/console/review/{first}/approve")
    assert again.status == 409 and "已由他人決定" in await again.text()


async def test_reject_needs_a_reason_and_tells_the_user(console_app, console_client, data):
    marketer = await console_client(Role.MARKETER)
    target = data.bob_flagged
    response = await marketer.post(f"/console/review/{target}/reject", {"reason": "", "free_text": "同一張照片"})
    html = await response.text()
    assert response.status == 422
    assert re.search(r'<div class="error" id="reason-error">請選擇退件原因</div>', html)
    assert ">同一張照片</textarea>" in html  # the form comes back filled
    response = await marketer.post(f"/console/review/{target}/reject", {"reason": "不喜歡"})
    assert response.status == 422 and "必須是活動的退件原因之一" in await response.text()
    response = await marketer.post(f"/console/review/{target}/reject", {"reason": "重複照片", "free_text": "同一張照片"})
    assert response.status == 303
    upload, reward = await _upload(console_app, target)
    assert (upload.status, upload.review_state, reward.state) == ("not_qualified", "rejected", "revoked")
    assert upload.reason == "審核未通過：重複照片（同一張照片）"
    async with console_app.db.session() as s:
        told = await s.scalar(select(OutgoingMessage).where(OutgoingMessage.upload_id == target,
                                                            OutgoingMessage.kind == "review.decision"))
    assert "原因：重複照片" in told.messages["messages"][0]["text"]


async def test_correct_reruns_the_rules_then_undo(console_app, console_client, data):
    marketer = await console_client(Role.MARKETER)
    target = data.amy_flagged[1]
    html = await (await marketer.get(f"/console/review/{target}")).text()
    assert 'value="250"' in html  # the form starts with MOF's record
    bad = await marketer.post(f"/console/review/{target}/correct", {"total_amount": "二百", "seller_ban": "82910724"})
    html = await bad.text()
    assert bad.status == 422 and re.search(r'id="total_amount-error">必須是 0 以上的整數（元）<', html)
    assert 'value="二百"' in html
    same = await marketer.post(f"/console/review/{target}/correct", {"total_amount": "250"})
    assert same.status == 422 and "請修改至少一個欄位" in await same.text()
    fixed = await marketer.post(f"/console/review/{target}/correct", {"total_amount": "2500"})
    assert fixed.status == 303 and fixed.headers["Location"].startswith(f"/console/review/{target}?")
    upload, reward = await _upload(console_app, target)
    assert (upload.total_amount, upload.status, upload.review_state, reward.state) == (2500, "passed", "flagged", "held")
    html = await (await marketer.get(fixed.headers["Location"])).text()
    assert "已更正並重新判定上傳" in html and "總金額（元） 250 → 2500" in html
    approved = await marketer.post(f"/console/review/{target}/approve")
    assert approved.status == 303
    async with console_app.db.session() as s:
        decision = await s.scalar(select(ReviewDecision.id).where(ReviewDecision.upload_id == target,
                                                                  ReviewDecision.kind == "approve"))
    html = await (await marketer.get(f"/console/review/{target}")).text()
    assert 'id="undo"' not in html  # the coupon was handed out: nothing to undo
    refused = await marketer.post(f"/console/review/{target}/undo", {"decision": str(decision)})
    assert refused.status == 422 and "獎項已送出" in await refused.text()


async def test_undo_a_rejection(console_app, console_client, data):
    manager = await console_client(Role.SUPPORT_MANAGER)
    target = data.bob_flagged
    assert (await manager.post(f"/console/review/{target}/reject", {"reason": "其他"})).status == 303
    html = await (await manager.get(f"/console/review/{target}")).text()
    decision = re.search(r'name="decision" value="(\d+)"', html).group(1)
    assert (await manager.post(f"/console/review/{target}/undo", {"decision": "x"})).status == 422
    assert (await manager.post(f"/console/review/{data.held[0]}/undo", {"decision": decision})).status == 422
    response = await manager.post(f"/console/review/{target}/undo", {"decision": decision})
    assert response.status == 303
    upload, reward = await _upload(console_app, target)
    assert (upload.status, upload.review_state, reward.state) == ("passed", "flagged", "held")
    html = await (await manager.get(response.headers["Location"])).text()
    assert "已復原決定" in html and "復原" in html and 'class="undone"' in html


async def test_bulk_shows_the_users_and_needs_the_second_confirmation(console_app, console_client, data):
    marketer = await console_client(Role.MARKETER)
    chosen = [*data.amy_flagged, data.bob_flagged, data.appealed]
    form = [("decision", "approve"), *[("upload", str(i)) for i in chosen], ("campaign", str(data.campaign_id))]
    step1 = await marketer.http.post("/console/review/bulk", data=[*form, ("csrf_token", marketer.csrf)],
                                     allow_redirects=False)
    html = await step1.text()
    assert step1.status == 200
    assert re.search(r"將核准 <strong>3</strong> 筆上傳，影響 <strong>2</strong> 位使用者", html)
    assert f"#{data.appealed}" in html  # skipped: its result is not 通過
    for upload_id in chosen[:3]:
        assert (await _upload(console_app, upload_id))[0].review_state == "flagged"  # nothing done yet
    confirm = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html.split('id="bulk-confirm"')[1])
    wrong = [(k, "1" if k == "confirmed_users" else v) for k, v in confirm]
    refused = await marketer.http.post("/console/review/bulk", data=wrong, allow_redirects=False)
    assert refused.status == 422 and "影響的使用者數已變為 2" in await refused.text()
    done = await marketer.http.post("/console/review/bulk", data=confirm, allow_redirects=False)
    assert done.status == 303 and "done=bulk-approve&of=3" in done.headers["Location"]
    for upload_id in chosen[:3]:
        assert (await _upload(console_app, upload_id))[0].review_state == "approved"


async def test_bulk_bad_input(console_app, console_client, data):
    marketer = await console_client(Role.MARKETER)
    none = await marketer.post("/console/review/bulk", {"decision": "approve"})
    assert none.status == 422 and "請勾選要批次決定的上傳" in await none.text()
    no_reason = await marketer.post("/console/review/bulk", {"decision": "reject", "upload": str(data.bob_flagged)})
    assert no_reason.status == 422 and re.search(r'id="bulk-reason-error">請選擇退件原因<', await no_reason.text())
    odd = await marketer.post("/console/review/bulk", {"decision": "delete", "upload": "1; DROP"})
    html = await odd.text()
    assert odd.status == 422 and "請選擇核准或退件" in html and "請勾選要批次決定的上傳" in html


async def test_csrf_and_roles_on_decisions(console_app, console_client, data):
    manager = await console_client(Role.SUPPORT_MANAGER)
    forged = await manager.http.post(f"/console/review/{data.bob_flagged}/approve", data={}, allow_redirects=False)
    assert forged.status == 403 and "CSRF" in await forged.text()
    agent = await console_client(Role.SUPPORT_AGENT)
    assert (await agent.post(f"/console/review/{data.bob_flagged}/approve")).status == 403
    assert (await agent.post("/console/review/bulk", {"decision": "approve", "upload": str(data.bob_flagged)})).status == 403
    nobody = await console_client(Role.NO_ACCESS)
    assert (await nobody.get("/console/review")).status == 403
    assert (await _upload(console_app, data.bob_flagged))[0].review_state == "flagged"


async def test_the_held_state_in_the_statistics_and_the_review_export(console_app, console_client, data):
    agent = await console_client(Role.SUPPORT_AGENT)
    html = await (await agent.get(f"/console/campaigns/{data.campaign_id}/info")).text()
    # held: each user's first pass; waiting for a person: three flagged passes and carol's appeal
    assert re.search(r'data-figure="held">2<', html) and re.search(r'data-figure="awaiting_review">4<', html)
    assert re.search(r'其中 <span data-figure="appeals_waiting">1</span> 張為使用者回報問題', html)
    assert 'data-export="review-csv"' in html
    download = await agent.get(f"/console/campaigns/{data.campaign_id}/export?kind=review&format=csv")
    text = (await download.read()).decode("utf-8-sig")
    assert download.status == 200 and text.splitlines()[0].startswith("姓名,LINE UID,發票號碼")
    assert "短時間大量上傳" in text and len(text.splitlines()) == 1 + 6
