"""The photo's perceptual hash: a 64-bit difference hash (dHash) of a 9×8 grayscale thumbnail
and the Hamming distance between two hashes.
Pure maths: the thumbnail comes from the caller (Pillow in bot/review/photos.py)."""
from __future__ import annotations

from collections.abc import Sequence

WIDTH, HEIGHT = 9, 8  # thumbnail size: 8 differences per row, 8 rows
BITS = 64
_MASK = (1 << BITS) - 1


def dhash(rows: Sequence[Sequence[int]]) -> int:
    """Bit (row, column) is set when the pixel is brighter than its right neighbour; row-major,
    the first difference of the first row is the most significant bit. `rows`: 8 rows of 9
    gray values."""
    if len(rows) != HEIGHT or any(len(row) != WIDTH for row in rows):
        raise ValueError(f"rows: expected {HEIGHT} rows of {WIDTH} gray values")
    value = 0
    for row in rows:
        for left, right in zip(row, row[1:]):
            value = (value << 1) | (1 if left > right else 0)
    return value


def distance(a: int, b: int) -> int:
    """How many of the 64 bits differ."""
    return ((a ^ b) & _MASK).bit_count()


def to_signed(value: int) -> int:
    """The unsigned 64-bit hash as a signed BIGINT (the databases have no unsigned 64-bit type)."""
    value &= _MASK
    return value - (1 << BITS) if value >= 1 << (BITS - 1) else value


def from_signed(value: int) -> int:
    return value & _MASK
