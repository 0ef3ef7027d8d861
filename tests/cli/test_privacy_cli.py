"""`admin-cli privacy …` and `admin-cli audit` through the real Typer app on both databases."""
import datetime as dt
import json

import pytest
import time_machine

from bot.storage.models import AuditEntry, Campaign, CampaignPhone, Customer
from flows.campaigns.dates import TAIPEI
from tests.cli.seed import EXAMPLES, NOW, add_uploads, fetch, setup_team

UID = "U" + "c" * 32
# list-only.yaml ends 2027-01-31; 180 days later is 2027-07-30
PAST_RETENTION = dt.datetime(2027, 8, 1, 12, 0, tzinfo=TAIPEI)


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        assert cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "list-only.yaml")).exit_code == 0
        assert cli("--as", "mia", "campaigns", "publish", "1").exit_code == 0
        yield cli


def test_purge_dry_run_then_purge_audited(team, database_url, tmp_path):
    add_uploads(database_url, 1, [(UID, "AB10000001", "passed"), ("U" + "d" * 32, "AB10000002", "invalid")])
    photo = tmp_path / "data" / "photos" / "1" / "0.img"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\xff\xd8\xff")
    early = team("--as", "sam", "privacy", "purge", "--dry-run", "--json")
    assert early.exit_code == 0 and json.loads(early.output)["campaigns"] == []
    with time_machine.travel(PAST_RETENTION, tick=True):
        dry = team("--as", "sam", "privacy", "purge", "--dry-run", "--json")
        assert dry.exit_code == 0, dry.output
        data = json.loads(dry.output)
        assert [c["id"] for c in data["campaigns"]] == [1] and data["dry_run"] is True
        assert (data["photos"], data["customers"], data["phones"], data["display_names"]) == (2, 2, 2, 2)
        table = team("--as", "sam", "privacy", "purge", "--dry-run")
        assert "would purge" in table.output and "發票照片" in table.output
        refused = team("--as", "sam", "privacy", "purge")
        assert refused.exit_code == 1 and "may not remove personal data" in refused.output
        done = team("--as", "boss", "privacy", "purge", "--json")
        assert done.exit_code == 0, done.output
        assert json.loads(done.output)["photo_files"] == 1 and not photo.exists()
    [campaign] = fetch(database_url, Campaign)
    assert campaign.purged_at is not None
    assert all(c.line_user_id.startswith("P") for c in fetch(database_url, Customer))
    assert fetch(database_url, CampaignPhone) == []
    [entry] = fetch(database_url, AuditEntry, AuditEntry.action == "privacy.purge")
    assert entry.detail["actor"] == "boss" and entry.detail["campaigns"] == [1]


def test_forget_rotate_links_and_the_audit_search(team, database_url):
    add_uploads(database_url, 1, [(UID, "AB10000001", "passed")])
    bad = team("--as", "boss", "privacy", "forget", "nobody")
    assert bad.exit_code == 1 and "LINE_UID" in bad.output
    gone = team("--as", "boss", "privacy", "forget", UID, "--crm", "--json")
    assert gone.exit_code == 0, gone.output
    report = json.loads(gone.output)
    assert report["customers"] == 1 and report["phones"] == 1 and report["pseudonym"].startswith("P")
    [customer] = fetch(database_url, Customer)
    assert customer.line_user_id == report["pseudonym"] and customer.display_name is None
    again = team("--as", "boss", "privacy", "forget", UID)
    assert again.exit_code == 0 and "never seen" in again.output
    rotated = team("--as", "boss", "privacy", "rotate-links")
    assert rotated.exit_code == 0 and "generation 1 → 2" in rotated.output
    assert team("--as", "mia", "privacy", "rotate-links").exit_code == 1  # 行銷人員 may not

    found = team("--as", "boss", "audit", "--action", "privacy", "--json")
    assert found.exit_code == 0, found.output
    entries = [json.loads(line) for line in found.output.splitlines()]
    assert [e["action"] for e in entries] == ["privacy.rotate_links", "privacy.forget", "privacy.forget"]
    assert entries[0]["before"] == {"generation": 1} and entries[0]["after"] == {"generation": 2}
    assert all(e["actor"] == "boss" for e in entries) and UID not in found.output
    by_target = team("--as", "boss", "audit", "--target", f"user:{report['pseudonym']}", "--json")
    assert len(by_target.output.splitlines()) == 2
    campaign = team("--as", "boss", "audit", "--target", "campaign:1", "--actor", "mia", "--json")
    assert [json.loads(line)["action"] for line in campaign.output.splitlines()] == [
        "campaign.publish", "campaign.create"]
    assert team("--as", "boss", "audit", "--actor", "nobody", "--json").output == ""
    limited = team("--as", "boss", "audit", "--limit", "1", "--json")
    assert len(limited.output.splitlines()) == 1
    future = team("--as", "boss", "audit", "--since", "2030-01-01", "--json")
    assert future.exit_code == 0 and future.output == ""
    past = team("--as", "boss", "audit", "--until", "2026-01-01T00:00", "--json")
    assert past.output == ""
    table = team("--as", "boss", "audit", "--action", "privacy.rotate_links")
    assert "boss" in table.output and "1 entries" in table.output
    assert team("--as", "boss", "audit", "--since", "yesterday").exit_code == 2
    assert team("--as", "sam", "audit").exit_code == 1  # 銷售人員 may not read the log


def test_retention_can_change_after_the_end_and_edits_record_before_and_after(team, database_url):
    edited = team("--as", "mia", "campaigns", "edit", "1", "--retention-days", "30", "--name", "新名稱")
    assert edited.exit_code == 0, edited.output
    entries = fetch(database_url, AuditEntry, AuditEntry.action == "campaign.publish")
    latest = max(entries, key=lambda e: e.id)
    assert set(latest.detail["before"]) == set(latest.detail["after"]) == {"name", "retention_days"}
    assert latest.detail["after"] == {"name": "新名稱", "retention_days": 30}
    assert latest.detail["before"]["retention_days"] == 180
    assert "活動結束後 30 天" in team("--as", "sam", "campaigns", "show", "1").output
    with time_machine.travel(dt.datetime(2027, 2, 15, 12, 0, tzinfo=TAIPEI), tick=True):
        ended = team("--as", "mia", "campaigns", "edit", "1", "--retention-days", "60")
        assert ended.exit_code == 1
        done = team("--as", "mia", "privacy", "retention", "1", "365")
        assert done.exit_code == 0 and "365 days after its end" in done.output
        assert team("--as", "sam", "privacy", "retention", "1", "10").exit_code == 1
        bad = team("--as", "mia", "privacy", "retention", "1", "0")
        assert bad.exit_code == 1 and "retention_days" in bad.output
    [entry] = fetch(database_url, AuditEntry, AuditEntry.action == "campaign.retention")
    assert entry.detail["before"] == {"retention_days": 30} and entry.detail["after"] == {"retention_days": 365}



def test_forget_deletes_the_users_state_kept_in_redis(team, database_url, redis_prefix, monkeypatch):
    """Issue 25: with REDIS_URL the conversation state (keys `prefix:channel:user:…`) lives in
    Redis, not state_entries: forget-me deletes the user's keys there too, no one else's."""
    from redis import Redis

    from tests.conftest import REDIS_URL

    add_uploads(database_url, 1, [(UID, "AB10000001", "passed")])
    other = f"{redis_prefix}:1:{'U' + 'e' * 32}:default:state"
    mine = [f"{redis_prefix}:1:{UID}:default:state", f"{redis_prefix}:1:{UID}:default:data",
            f"{redis_prefix}:env:{UID}:default:lock"]
    redis = Redis.from_url(REDIS_URL)
    try:
        for key in (*mine, other):
            redis.set(key, "photo window", ex=1800)
        monkeypatch.setenv("REDIS_URL", REDIS_URL)
        monkeypatch.setenv("STATE_PREFIX", redis_prefix)
        dry = team("--as", "boss", "privacy", "forget", UID, "--dry-run", "--json")
        assert dry.exit_code == 0, dry.output
        assert json.loads(dry.output)["state_entries"] == 3 and redis.exists(*mine) == 3
        gone = team("--as", "boss", "privacy", "forget", UID, "--json")
        assert gone.exit_code == 0, gone.output
        assert json.loads(gone.output)["state_entries"] == 3
        assert redis.exists(*mine) == 0 and redis.get(other) == b"photo window"
    finally:
        redis.delete(*mine, other)
        redis.close()
