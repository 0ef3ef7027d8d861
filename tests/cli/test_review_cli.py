"""`admin-cli review …`: the queue, one upload, approve, reject, correct, undo and bulk with its
confirmation, as the acting user; a read-only role may list but not decide."""
from __future__ import annotations

import json

import time_machine
from sqlalchemy import select, update

from bot.campaigns.settle import settle
from bot.storage.models import Upload
from tests.campaign_store.data import invoice
from tests.cli.seed import EXAMPLES, NOW, _run, add_uploads, setup_team


def _world(cli, database_url):
    setup_team(cli)
    made = cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "review-hold.yaml"))
    assert made.exit_code == 0, made.output
    campaign_id = int(made.output.split()[2])
    assert cli("--as", "mia", "campaigns", "publish", str(campaign_id)).exit_code == 0
    ids = add_uploads(database_url, campaign_id, [("U01", "AB10000001", "pending"), ("U02", "AB10000002", "pending"),
                                                   ("U03", "AB10000003", "pending")])

    async def work(s):  # noqa: ANN001, ANN202
        for upload_id, number, total in zip(ids, ("AB10000001", "AB10000002", "AB10000003"), (3000, 300, 3000)):
            await s.execute(update(Upload).where(Upload.id == upload_id).values(invoice_date=invoice(number).date))
            await settle(s, upload_id, invoice(number, total=total, day=NOW.date()), NOW)
        # Flag them for the queue as signals would (the signals have their own tests).
        await s.execute(update(Upload).where(Upload.id.in_(ids)).values(review_state="flagged", review_since=NOW))

    _run(database_url, work)
    return campaign_id, ids


def test_review_commands(cli, database_url):
    with time_machine.travel(NOW, tick=True):
        campaign_id, (a, b, c) = _world(cli, database_url)
        listed = cli("--as", "sam", "review", "list", "--campaign", str(campaign_id), "--json")
        assert listed.exit_code == 0, listed.output
        assert [r["upload_id"] for r in json.loads(listed.output)["rows"]] == [a, b, c]
        table = cli("--as", "sam", "review", "list")
        assert table.exit_code == 0 and "待審核" in table.output
        refused = cli("--as", "sam", "review", "approve", str(a))
        assert refused.exit_code == 1 and "審核" in refused.output
        shown = cli("--as", "sam", "review", "show", str(b), "--json")
        assert json.loads(shown.output)["status"] == "not_qualified"
        assert cli("--as", "sam", "review", "show", str(b)).exit_code == 0

        approved = cli("--as", "mia", "review", "approve", str(a))
        assert approved.exit_code == 0 and "已核准" in approved.output, approved.output
        again = cli("--as", "boss", "review", "approve", str(a))
        assert again.exit_code == 1 and "已有決定" in again.output
        bad = cli("--as", "mia", "review", "correct", str(b), "--amount", "-5")
        assert bad.exit_code == 1 and "total_amount" in bad.output
        fixed = cli("--as", "mia", "review", "correct", str(b), "--amount", "800")
        assert fixed.exit_code == 0 and "通過" in fixed.output, fixed.output
        rejected = cli("--as", "mia", "review", "reject", str(c), "--reason", "共用載具", "--note", "同一載具")
        assert rejected.exit_code == 0, rejected.output
        decision = int(rejected.output.split()[1].rstrip(":"))
        assert cli("--as", "mia", "review", "reject", str(b), "--reason", "亂寫").exit_code == 1
        undone = cli("--as", "boss", "review", "undo", str(decision))
        assert undone.exit_code == 0 and "待審核" in undone.output, undone.output

        unconfirmed = cli("--as", "mia", "review", "bulk", "reject", str(b), str(c), "--reason", "其他", input="3\n")
        assert unconfirmed.exit_code == 1 and "of 2 LINE users" in unconfirmed.output
        typed = cli("--as", "mia", "review", "bulk", "approve", str(b), str(c), input="2\n")
        assert typed.exit_code == 0 and "decided 2" in typed.output, typed.output
        nothing = cli("--as", "mia", "review", "bulk", "approve", str(b), "--yes", "--yes")
        assert nothing.exit_code == 1 and "nothing to decide" in nothing.output

    async def states(s):  # noqa: ANN001, ANN202
        return dict((await s.execute(select(Upload.id, Upload.review_state))).all())

    assert _run(database_url, states) == {a: "approved", b: "approved", c: "approved"}


def test_a_wait_is_never_shown_negative() -> None:
    """A sandbox's simulated clock may run ahead of the CLI's: the 等候 column shows no negative age."""
    import datetime as dt

    from admin_cli.review import _age

    assert _age(dt.timedelta(hours=-10, minutes=-29)) == "0h0m"
    assert _age(dt.timedelta(hours=2, minutes=5)) == "2h5m"
    assert _age(dt.timedelta(days=3, hours=4)) == "3d4h"
