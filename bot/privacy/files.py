"""Where the privacy purge deletes stored files: one small interface, `delete(path)` of a stored
photo path (`photos/<campaign>/<file>`), so a photo store (local disk, S3) can take its place."""
from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Protocol


class FileDeleter(Protocol):
    def delete(self, path: str) -> bool:
        """Delete the stored file; True when it existed. A missing file is not an error, nor is
        a path that is not a stored photo (nothing is deleted for it)."""


class LocalFiles:
    """Stored paths relative to DATA_DIR (what the service writes today)."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir).resolve()

    def delete(self, path: str) -> bool:
        parts = PurePosixPath(path).parts
        if not parts or parts[0] != "photos" or any(p in ("", ".", "..") for p in parts):
            return False  # not a file we wrote (never delete outside photos/); the path is still cleared
        file = self.root.joinpath(*parts)
        try:
            file.unlink()
        except FileNotFoundError:
            return False
        return True
