"""Read and write today's Stockfish nets (SF17.1 big/small, SF18 big with threats; target: seconds, not minutes)
vs a plain copy of the same bytes (baseline), in the same run. Nets: ../shared/fixtures/nnue_modern."""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

from boardnet.nnue import file as nnue

FIX = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nnue_modern"
NETS = ("nn-37f18f62d772.nnue", "nn-c288c895ea92.nnue", "nn-1c0000000000.nnue")


def main() -> None:
    worst = 0.0
    with tempfile.TemporaryDirectory() as d:
        for name in NETS:
            src = Path(d) / name
            with gzip.open(FIX / (name + ".gz"), "rb") as fi, open(src, "wb") as fo:
                shutil.copyfileobj(fi, fo)
            t0 = time.perf_counter()
            shutil.copyfile(src, Path(d) / "copy.nnue")
            base = time.perf_counter() - t0
            t0 = time.perf_counter()
            net = nnue.read_net(src)
            t_read = time.perf_counter() - t0
            t0 = time.perf_counter()
            nnue.write_net(net, Path(d) / "rt.nnue")
            t_write = time.perf_counter() - t0
            same = (Path(d) / "rt.nnue").read_bytes() == src.read_bytes()
            worst = max(worst, t_read, t_write)
            print(f"{name} ({net.spec.config['arch']}, {src.stat().st_size:,} bytes): read {t_read:.2f} s, "
                  f"write {t_write:.2f} s, bytes equal {same}; file copy baseline {base:.3f} s")
    print(f"slowest read or write {worst:.2f} s; target < 10 s: {'OK' if worst < 10 else 'MISSED'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
