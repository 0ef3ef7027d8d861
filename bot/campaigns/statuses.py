"""The stored upload status codes and the domain's UploadStatus (zh-TW labels) in both directions."""
from __future__ import annotations

from flows.campaigns.rules import UploadStatus

PENDING = "pending"
PASSED = "passed"
INVALID = "invalid"
NOT_QUALIFIED = "not_qualified"
DUPLICATE = "duplicate"
UNREADABLE = "unreadable"

_TO_DOMAIN: dict[str, UploadStatus] = {
    PENDING: UploadStatus.PENDING,
    PASSED: UploadStatus.PASSED,
    INVALID: UploadStatus.INVALID,
    NOT_QUALIFIED: UploadStatus.NOT_QUALIFIED,
    DUPLICATE: UploadStatus.DUPLICATE,
    UNREADABLE: UploadStatus.UNRECOGNISED,
}
_TO_CODE = {status: code for code, status in _TO_DOMAIN.items()}

#: Codes counted in 上傳發票數 (duplicates and unreadable photos are recorded but not counted).
COUNTED_CODES: tuple[str, ...] = (PASSED, INVALID, PENDING, NOT_QUALIFIED)


def to_domain(code: str) -> UploadStatus:
    """The domain status of a stored code; an unknown code is a data error naming the field."""
    try:
        return _TO_DOMAIN[code]
    except KeyError:
        raise ValueError(f"uploads.status: unknown status code {code!r}") from None


def to_code(status: UploadStatus) -> str:
    return _TO_CODE[status]
