"""Read + write the SF15.1 default net (target < 1 s) vs a plain file copy of the same bytes (baseline)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from boardnet.nnue import file as nnue


def main() -> None:
    sf = shutil.which("stockfish") or "/usr/games/stockfish"
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "sf.nnue"
        subprocess.run([sf], input=f"uci\nexport_net {src}\nquit\n", text=True, capture_output=True, check=True)
        t0 = time.perf_counter()
        shutil.copyfile(src, Path(d) / "copy.nnue")
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        nnue.write_net(nnue.read_net(src), Path(d) / "rt.nnue")
        ours = time.perf_counter() - t0
    print(f"read+write {ours:.3f} s; file copy baseline {base:.3f} s; ratio {ours / base:.1f}x; "
          f"target < 1 s: {'OK' if ours < 1 else 'MISSED'}")
    sys.exit(0)


if __name__ == "__main__":
    main()
