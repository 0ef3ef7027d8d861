"""`admin-cli photos migrate`: every photo copied between a local directory and an S3 bucket (moto,
started by the tests), with progress; a second run copies nothing, a damaged copy is redone,
references the source lacks are reported."""
import boto3
import pytest
import time_machine

from tests.cli.seed import EXAMPLES, NOW, add_uploads, setup_team


@pytest.fixture
def team(cli):
    with time_machine.travel(NOW, tick=True):
        setup_team(cli)
        yield cli


def _uploads_with_photos(cli, database_url, data_dir):
    made = cli("--as", "mia", "campaigns", "create", "-f", str(EXAMPLES / "list-only.yaml"))
    assert made.exit_code == 0, made.output
    campaign_id = int(made.output.split()[2])
    add_uploads(database_url, campaign_id, [("U01", f"AB{10000000 + i}", "passed") for i in range(3)])
    photos = {f"photos/{campaign_id}/{i}.img": b"\xff\xd8\xff" + bytes([i]) * (1000 + i) for i in range(3)}
    photos[f"photos/{campaign_id}/orphan.img"] = b"kept too"  # saved, never registered
    for path, data in photos.items():
        (data_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / path).write_bytes(data)
    return photos


def test_local_to_s3_and_back_is_idempotent_and_resumable(team, database_url, tmp_path, s3_endpoint, s3_bucket):
    data_dir = tmp_path / "data"
    photos = _uploads_with_photos(team, database_url, data_dir)
    env = {"S3_ENDPOINT_URL": s3_endpoint}
    bucket = f"s3://{s3_bucket}/brand"

    first = team("photos", "migrate", "--from", str(data_dir), "--to", bucket, env=env)
    assert first.exit_code == 0, first.output
    assert f"4 photos in local directory {data_dir} → {bucket} at {s3_endpoint}" in first.output
    assert "4/4  copied 4  already there 0  failed 0" in first.output
    assert "done: 4 photos, copied 4, already there 0, failed 0" in first.output
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for path, data in photos.items():
        assert s3.get_object(Bucket=s3_bucket, Key=f"brand/{path}")["Body"].read() == data

    again = team("photos", "migrate", "--from", str(data_dir), "--to", bucket, env=env)
    assert "done: 4 photos, copied 0, already there 4, failed 0" in again.output

    damaged = sorted(photos)[0]
    s3.put_object(Bucket=s3_bucket, Key=f"brand/{damaged}", Body=b"\xee" * 1003)  # same size, other bytes
    repaired = team("photos", "migrate", "--from", f"file://{data_dir}", "--to", bucket, env=env)
    assert "done: 4 photos, copied 1, already there 3, failed 0" in repaired.output
    assert s3.get_object(Bucket=s3_bucket, Key=f"brand/{damaged}")["Body"].read() == photos[damaged]

    back = tmp_path / "restored"
    restored = team("photos", "migrate", "--from", bucket, "--to", str(back), env=env)
    assert restored.exit_code == 0, restored.output
    assert {p: (back / p).read_bytes() for p in photos} == photos


def test_photos_the_database_references_but_the_source_lacks_are_reported(team, database_url, tmp_path):
    data_dir = tmp_path / "data"
    photos = _uploads_with_photos(team, database_url, data_dir)
    lost = sorted(photos)[1]
    (data_dir / lost).unlink()
    result = team("photos", "migrate", "--from", str(data_dir), "--to", str(tmp_path / "elsewhere"))
    assert result.exit_code == 1
    assert f"missing: {lost} is referenced by an upload but not in --from" in result.output
    assert "done: 3 photos, copied 3, already there 0, failed 0, 1 referenced photos missing" in result.output


@pytest.mark.parametrize("args, says", [
    (["--from", "ftp://x/y", "--to", "s3://b/p"], "error: --from: must be s3://bucket/prefix"),
    (["--from", "s3://b/p", "--to", "s3://b/p/"], "error: --to: the same store as --from"),
    (["--from", "/nonexistent/photos", "--to", "s3://b/p"], "error: --from: no such directory"),
])
def test_bad_stores_are_one_line_errors(cli, args, says):
    result = cli("photos", "migrate", *args)
    assert result.exit_code == 1 and result.output.strip().startswith(says)
