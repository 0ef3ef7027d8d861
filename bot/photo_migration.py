"""Copy every photo (and campaign card image) from one photo store to another: idempotent (a photo already there with the
same size and checksum is skipped) and so resumable (run it again after an interruption)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.photo_store import PhotoStore, PhotoStoreError


@dataclass
class MigrationReport:
    total: int = 0
    copied: int = 0
    already_there: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    paths: set[str] = field(default_factory=set)  # every photo path found in the source

    @property
    def done(self) -> int:
        return self.copied + self.already_there + len(self.failed)


def _same(source: PhotoStore, target: PhotoStore, path: str) -> bool:
    there = target.info(path)
    if there is None:
        return False
    here = source.info(path)
    if here is None or here.size != there.size:
        return False
    return here.md5 is None or there.md5 is None or here.md5 == there.md5


def migrate_photos(source: PhotoStore, target: PhotoStore,
                   progress: Callable[[MigrationReport], None] = lambda _r: None) -> MigrationReport:
    """Copy source → target (the source is left as it is). Paths are the same in every store,
    so the stored `uploads.photo_path` values stay valid. Blocking: run it in a thread."""
    report = MigrationReport()
    report.paths = set(source.paths()) | set(source.card_image_paths())
    report.total = len(report.paths)
    progress(report)
    for path in sorted(report.paths):
        try:
            if _same(source, target, path):
                report.already_there += 1
            else:
                data = source.get(path)
                if data is None:
                    raise PhotoStoreError("gone from the source during the copy")
                target.put(path, data)
                written = target.info(path)
                if written is None or written.size != len(data):
                    raise PhotoStoreError("not found at the destination after writing")
                report.copied += 1
        except PhotoStoreError as exc:
            report.failed.append((path, str(exc)))
        progress(report)
    return report
