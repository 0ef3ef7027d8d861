"""Benchmark: e-invoice photo decoding (ours, zxing-cpp) against an OpenCV QRCodeDetector baseline.

    .venv/bin/python bench/decode.py --n 200

Generates N synthetic 12-MP phone photos (half "moderate", half "hard" degradations, seeded;
each receipt printed in one of the payload forms real receipts use, `invoice_photos.FORMS`),
then on ONE CPU core decodes each with `flows.einvoice.photo.decode_photo` and with
`cv2.QRCodeDetector().detectAndDecodeMulti`, and prints success rates (both QR codes; header
i.e. left QR; any usable code) and p50/p95 time per photo (JPEG decoding included for both).
"""
from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.simulators.invoice_photos import (  # noqa: E402
    FORMS,
    form_invoice,
    hard,
    make_invoice_code,
    moderate,
    render_photo,
)
from flows.einvoice.errors import InvoiceCodeError  # noqa: E402
from flows.einvoice.photo import LEFT_QR, RIGHT_QR, decode_photo  # noqa: E402
from flows.einvoice.qr import parse_left_qr  # noqa: E402


@dataclass
class Tally:
    times: list[float] = field(default_factory=list)
    both: int = 0
    header: int = 0
    usable: int = 0
    wrong: int = 0

    def line(self, label: str, n: int) -> str:
        times = sorted(self.times)
        p50 = statistics.median(times) * 1000
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))] * 1000
        return (
            f"{label:<22} n={n:<4} both QR {100 * self.both / n:6.1f}%  header {100 * self.header / n:6.1f}%  "
            f"usable {100 * self.usable / n:6.1f}%  wrong {self.wrong}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms"
        )


def _make(args: tuple[int, str, str]) -> tuple[str, str, str]:
    seed, level, directory = args
    rng = random.Random(seed)
    code = make_invoice_code(rng)
    degradation = moderate(rng) if level == "moderate" else hard(rng)
    form_rng = random.Random(f"form-{seed}")  # its own stream: the degradations stay as they were
    form = form_rng.choice(FORMS)
    code = form_invoice(code, form, form_rng)
    path = Path(directory) / f"{level}-{seed}-{form}.jpg"
    if not path.exists():
        path.write_bytes(render_photo(code, degradation, seed=seed, form=form))
    return str(path), level, code.invoice_number


def _ours(data: bytes, number: str, tally: Tally) -> None:
    started = time.perf_counter()
    result = decode_photo(data)
    tally.times.append(time.perf_counter() - started)
    if result.code is None:
        return
    if result.code.invoice_number != number:
        tally.wrong += 1
        return
    tally.usable += 1
    tally.header += LEFT_QR in result.found
    tally.both += LEFT_QR in result.found and RIGHT_QR in result.found


def _opencv(cv2: object, detector: object, data: bytes, number: str, tally: Tally) -> None:
    import numpy as np

    started = time.perf_counter()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)  # type: ignore[attr-defined]
    ok, texts, _points, _ = detector.detectAndDecodeMulti(image)  # type: ignore[attr-defined]
    tally.times.append(time.perf_counter() - started)
    texts = [t for t in (texts if ok else ()) if t]
    left = right = False
    for text in texts:
        if text.startswith("**"):
            right = True
            continue
        try:
            header = parse_left_qr(text.encode("utf-8", "replace")).header
        except InvoiceCodeError:
            continue
        if header.invoice_number == number:
            left = True
        else:
            tally.wrong += 1
    tally.header += left
    tally.usable += left
    tally.both += left and right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="number of photos (half moderate, half hard)")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=None, help="keep generated photos in this folder")
    parser.add_argument("--no-opencv", action="store_true", help="skip the OpenCV baseline")
    args = parser.parse_args()

    directory = args.cache or Path(tempfile.mkdtemp(prefix="invoice-photos-"))
    directory.mkdir(parents=True, exist_ok=True)
    jobs = [(args.seed + i, "moderate" if i % 2 == 0 else "hard", str(directory)) for i in range(args.n)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        photos = list(pool.map(_make, jobs, chunksize=4))
    print(f"generated {len(photos)} photos of 4000×3000 in {time.perf_counter() - started:.0f} s ({directory})")

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2: object = None
    detector: object = None
    if not args.no_opencv:
        import cv2

        cv2.setNumThreads(1)
        detector = cv2.QRCodeDetector()
    ours = {"moderate": Tally(), "hard": Tally()}
    theirs = {"moderate": Tally(), "hard": Tally()}
    for path, level, number in photos:
        data = Path(path).read_bytes()
        _ours(data, number, ours[level])
        if not args.no_opencv:
            _opencv(cv2, detector, data, number, theirs[level])

    counts = {level: sum(1 for _p, lv, _n in photos if lv == level) for level in ours}
    baseline = "" if args.no_opencv else f" vs OpenCV {cv2.__version__}"  # type: ignore[attr-defined]
    print(f"single core (affinity {sorted(os.sched_getaffinity(0))}), zxing-cpp + Pillow{baseline}")
    for level in ("moderate", "hard"):
        print(ours[level].line(f"ours/{level}", counts[level]))
        if not args.no_opencv:
            print(theirs[level].line(f"opencv/{level}", counts[level]))
    if not args.no_opencv:
        all_ours = statistics.median(ours["moderate"].times + ours["hard"].times)
        all_cv = statistics.median(theirs["moderate"].times + theirs["hard"].times)
        print(f"speed ratio (p50 OpenCV / p50 ours, all photos): {all_cv / all_ours:.1f}×")


if __name__ == "__main__":
    main()
