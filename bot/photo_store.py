"""Where uploaded invoice photos are kept: a local directory (the default) or an S3-compatible bucket.

A photo is named by its store-independent path `photos/<campaign>/<file>` (the value kept in
`uploads.photo_path`); the local store keeps it at `<root>/<path>`, the S3 store under the key
`<prefix>/<path>`, so moving photos between stores never changes the stored paths. The calls are
blocking (boto3 is synchronous): callers run them in a thread. Campaign card images are kept in
the same store under `campaign-images/<file>` (put and get only: `paths()` and `delete()` see
invoice photos alone).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

PHOTOS = "photos"
CARD_IMAGES = "campaign-images"  # the campaigns' card images (bot.campaigns.images), not personal data
_CARD_IMAGE_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png)")
ADDRESSING_STYLES = ("auto", "path", "virtual")


class PhotoStoreError(Exception):
    """The store could not be reached or refused the request (the message names no secret)."""


@dataclass(frozen=True)
class PhotoInfo:
    size: int
    md5: str | None  # hex digest when the store knows it cheaply (S3 single-part ETag, local file)


@dataclass(frozen=True)
class PhotoStoreSettings:
    """PHOTO_STORE_URL and the S3 connection settings, validated at start-up by bot.config."""

    url: str | None = None  # None: the local directory DATA_DIR
    s3_endpoint_url: str | None = None  # None: AWS itself
    s3_region: str | None = None
    s3_addressing_style: str | None = None  # None: path style with an endpoint, else auto


def is_photo_path(path: str) -> bool:
    """`photos/<campaign>/<file>`, with no empty, `.` or `..` parts (nothing outside photos/)."""
    parts = PurePosixPath(path).parts
    return (len(parts) == 3 and parts[0] == PHOTOS and "\\" not in path
            and all(p not in ("", ".", "..") for p in parts) and not path.startswith("/"))


def is_card_image_path(path: str) -> bool:
    """`campaign-images/<32 hex digits>.jpg|png`: a campaign's card image (kept, served and
    deleted apart from the invoice photos: the privacy purge and `paths()` never see them)."""
    parts = path.split("/")
    return len(parts) == 2 and parts[0] == CARD_IMAGES and _CARD_IMAGE_NAME.fullmatch(parts[1]) is not None


def _checked(path: str) -> str:
    if not (is_photo_path(path) or is_card_image_path(path)):
        raise ValueError(f"not a photo path: {path!r}")
    return path


def parse_store_url(value: str) -> tuple[str, str, str]:
    """`s3://bucket/prefix` → ("s3", bucket, prefix); `file:///dir` or a plain directory →
    ("file", "", dir). Raises ValueError with the reason."""
    parts = urlsplit(value)
    if parts.scheme == "s3":
        if "@" in parts.netloc:
            raise ValueError("put no credentials in the URL: use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"expected s3://bucket/prefix, got {value!r}")
        return "s3", parts.netloc, parts.path.strip("/")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ValueError(f"expected file:///absolute/directory, got {value!r}")
        return "file", "", parts.path
    if parts.scheme or not value:
        raise ValueError(f"must be s3://bucket/prefix, file:///directory or a directory, got {value!r}")
    return "file", "", value


class PhotoStore(ABC):
    """put/get/info by photo path; `paths()` lists every photo kept."""

    description: str

    @abstractmethod
    def put(self, path: str, data: bytes) -> None: ...

    @abstractmethod
    def get(self, path: str) -> bytes | None:
        """The photo's bytes, or None when there is no such photo."""

    @abstractmethod
    def info(self, path: str) -> PhotoInfo | None: ...

    @abstractmethod
    def paths(self) -> Iterator[str]: ...

    @abstractmethod
    def card_image_paths(self) -> Iterator[str]:
        """Every campaign card image kept (`campaign-images/<file>`), for the store migration."""

    def delete(self, path: str) -> bool:
        """Delete a stored photo (the privacy purge and forget-me); True when it existed. A missing
        photo is not an error, and a path that is not a photo path deletes nothing."""
        if not is_photo_path(path):
            return False
        return self._delete(path)

    @abstractmethod
    def _delete(self, path: str) -> bool: ...

    def exists(self, path: str) -> bool:
        """Whether `delete(path)` would delete a file (the purge's dry run counts them)."""
        return is_photo_path(path) and self._exists(path)

    def _exists(self, path: str) -> bool:
        return self.info(path) is not None

    def check(self) -> None:
        """Raise PhotoStoreError when the store is not usable (called at start-up)."""

    def close(self) -> None:
        pass


class LocalPhotoStore(PhotoStore):
    """Files under a directory (DATA_DIR by default): right for one machine with a lasting disk."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.description = f"local directory {self.root}"

    def put(self, path: str, data: bytes) -> None:
        target = self.root / _checked(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed: a crash never leaves half a photo under its name.
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get(self, path: str) -> bytes | None:
        try:
            return (self.root / _checked(path)).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def info(self, path: str) -> PhotoInfo | None:
        data = self.get(path)
        return None if data is None else PhotoInfo(len(data), hashlib.md5(data).hexdigest())

    def _exists(self, path: str) -> bool:
        return (self.root / path).is_file()

    def _delete(self, path: str) -> bool:
        try:
            (self.root / path).unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False
        return True

    def paths(self) -> Iterator[str]:
        base = self.root / PHOTOS
        if not base.is_dir():
            return
        for campaign in sorted(base.iterdir()):
            if campaign.is_dir():
                for file in sorted(campaign.iterdir()):
                    if file.is_file() and not file.name.startswith(".part-"):
                        yield f"{PHOTOS}/{campaign.name}/{file.name}"

    def card_image_paths(self) -> Iterator[str]:
        base = self.root / CARD_IMAGES
        if base.is_dir():
            for file in sorted(base.iterdir()):
                if file.is_file() and is_card_image_path(f"{CARD_IMAGES}/{file.name}"):
                    yield f"{CARD_IMAGES}/{file.name}"


class S3PhotoStore(PhotoStore):
    """Objects in an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO…), shared by every process.
    Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    AWS_SESSION_TOKEN, a profile, or an instance role)."""

    def __init__(self, bucket: str, prefix: str, settings: PhotoStoreSettings) -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        style = settings.s3_addressing_style or ("path" if settings.s3_endpoint_url else "auto")
        self.description = f"s3://{bucket}/{self.prefix}" + (
            f" at {settings.s3_endpoint_url}" if settings.s3_endpoint_url else "")
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            config=BotoConfig(s3={"addressing_style": style}, retries={"max_attempts": 5, "mode": "standard"},
                              connect_timeout=5, read_timeout=30, max_pool_connections=16),
        )

    def _key(self, path: str) -> str:
        return f"{self.prefix}/{_checked(path)}" if self.prefix else _checked(path)

    def _error(self, action: str, exc: Exception) -> PhotoStoreError:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
        return PhotoStoreError(f"{self.description}: {action} failed ({code or type(exc).__name__})")

    def put(self, path: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(path), Body=data,
                                   ContentMD5=_b64md5(data), ContentType="application/octet-stream")
        except (BotoCoreError, ClientError) as exc:
            raise self._error("put", exc) from None

    def get(self, path: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
            return answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error("get", exc) from None
        except BotoCoreError as exc:
            raise self._error("get", exc) from None

    def info(self, path: str) -> PhotoInfo | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise self._error("head", exc) from None
        except BotoCoreError as exc:
            raise self._error("head", exc) from None
        etag = head.get("ETag", "").strip('"')
        return PhotoInfo(head["ContentLength"], etag if len(etag) == 32 and "-" not in etag else None)

    def _delete(self, path: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        if self.info(path) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path))
        except (BotoCoreError, ClientError) as exc:
            raise self._error("delete", exc) from None
        return True

    def paths(self) -> Iterator[str]:
        return self._listed(PHOTOS, is_photo_path)

    def card_image_paths(self) -> Iterator[str]:
        return self._listed(CARD_IMAGES, is_card_image_path)

    def _listed(self, folder: str, wanted: Callable[[str], bool]) -> Iterator[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=f"{start}{folder}/"):
                for item in page.get("Contents", []):
                    path = item["Key"][len(start):]
                    if wanted(path):
                        yield path
        except (BotoCoreError, ClientError) as exc:
            raise self._error("list", exc) from None

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("head bucket", exc) from None

    def close(self) -> None:
        self.client.close()


def _b64md5(data: bytes) -> str:
    import base64

    return base64.b64encode(hashlib.md5(data).digest()).decode()


def open_store(settings: PhotoStoreSettings, data_dir: Path, url: str | None = None) -> PhotoStore:
    """The store named by `url` (default: settings.url; unset → the local DATA_DIR)."""
    url = url if url is not None else settings.url
    if url is None:
        return LocalPhotoStore(data_dir)
    kind, bucket, where = parse_store_url(url)
    if kind == "s3":
        return S3PhotoStore(bucket, where, settings)
    return LocalPhotoStore(Path(where))

