"""The photo store's two backends behave alike: a local directory and an S3 bucket on a local
S3-compatible server (moto) that the tests start themselves."""
import hashlib
import socket

import boto3
import pytest

from bot.photo_store import (LocalPhotoStore, PhotoInfo, PhotoStoreError, PhotoStoreSettings, S3PhotoStore,
                             open_store, parse_store_url)

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalPhotoStore(tmp_path / "data")
        return
    endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket")
    store = open_store(PhotoStoreSettings(url=f"s3://{bucket}/brand-a", s3_endpoint_url=endpoint), tmp_path)
    assert isinstance(store, S3PhotoStore)
    yield store
    store.close()


def test_put_get_info_and_list(store):
    store.check()
    assert store.get("photos/1/a.img") is None and store.info("photos/1/a.img") is None
    store.put("photos/1/a.img", JPEG)
    store.put("photos/2/b.img", b"other")
    store.put("photos/1/a.img", JPEG)  # the same photo again: one object
    assert store.get("photos/1/a.img") == JPEG
    assert store.info("photos/1/a.img") == PhotoInfo(len(JPEG), hashlib.md5(JPEG).hexdigest())
    assert sorted(store.paths()) == ["photos/1/a.img", "photos/2/b.img"]


@pytest.mark.parametrize("path", ["photos/1/../../x", "../photos/1/a.img", "/photos/1/a.img", "photos/a.img",
                                  "photos/1/a/b.img", "other/1/a.img", "photos/1/..", "photos/1\\..\\x/a"])
def test_paths_outside_photos_are_refused(store, path):
    with pytest.raises(ValueError):
        store.put(path, JPEG)
    with pytest.raises(ValueError):
        store.get(path)
    assert store.delete(path) is False  # the purge never deletes outside photos/


def test_delete_removes_one_photo_and_is_idempotent(store):
    store.put("photos/1/a.img", JPEG)
    store.put("photos/1/b.img", b"other")
    assert store.delete("photos/1/a.img") is True
    assert store.get("photos/1/a.img") is None
    assert store.delete("photos/1/a.img") is False  # already gone: not an error
    assert sorted(store.paths()) == ["photos/1/b.img"]


def test_s3_keys_live_under_the_prefix(s3_endpoint, s3_bucket, tmp_path):
    store = open_store(PhotoStoreSettings(url=f"s3://{s3_bucket}/brand-a/", s3_endpoint_url=s3_endpoint), tmp_path)
    store.put("photos/7/x.img", JPEG)
    raw = boto3.client("s3", endpoint_url=s3_endpoint)
    assert [o["Key"] for o in raw.list_objects_v2(Bucket=s3_bucket)["Contents"]] == ["brand-a/photos/7/x.img"]
    raw.put_object(Bucket=s3_bucket, Key="brand-a/notes.txt", Body=b"not a photo")
    raw.put_object(Bucket=s3_bucket, Key="brand-b/photos/7/y.img", Body=b"another prefix")
    assert list(store.paths()) == ["photos/7/x.img"]
    assert store.get("photos/7/y.img") is None


def test_an_unreachable_or_missing_bucket_is_a_store_error_naming_no_secret(s3_endpoint, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = open_store(PhotoStoreSettings(url="s3://photos/p", s3_endpoint_url=closed), tmp_path)
    with pytest.raises(PhotoStoreError) as info:
        down.put("photos/1/a.img", JPEG)
    assert "s3://photos/p" in str(info.value) and "testing" not in str(info.value)
    missing = open_store(PhotoStoreSettings(url="s3://no-such-bucket/p", s3_endpoint_url=s3_endpoint), tmp_path)
    with pytest.raises(PhotoStoreError):
        missing.check()


def test_a_crash_mid_write_leaves_no_half_photo_under_its_name(tmp_path, monkeypatch):
    store = LocalPhotoStore(tmp_path)
    store.put("photos/1/a.img", JPEG)
    import os

    def boom(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.put("photos/1/a.img", b"half")
    assert store.get("photos/1/a.img") == JPEG
    assert [p.name for p in (tmp_path / "photos" / "1").iterdir()] == ["a.img"]


@pytest.mark.parametrize("url, parsed", [
    ("s3://bucket/a/b", ("s3", "bucket", "a/b")), ("s3://bucket", ("s3", "bucket", "")),
    ("file:///srv/photos", ("file", "", "/srv/photos")), ("./data", ("file", "", "./data")),
])
def test_store_urls(url, parsed):
    assert parse_store_url(url) == parsed
