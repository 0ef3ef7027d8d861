"""Where the privacy purge deletes stored files: one small interface, `delete(path)` of a stored
photo path (`photos/<campaign>/<file>`) and `exists(path)` for the dry run; every
`bot.photo_store.PhotoStore` (local disk, S3) is one."""
from __future__ import annotations

from typing import Protocol


class FileDeleter(Protocol):
    def delete(self, path: str) -> bool:
        """Delete the stored file; True when it existed. A missing file is not an error, nor is
        a path that is not a stored photo (nothing is deleted for it)."""

    def exists(self, path: str) -> bool:
        """Whether `delete(path)` would delete a file."""
