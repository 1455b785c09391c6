"""LEB128 (§5) on the SF15.1 default net: read/write of the compressed file vs the plain file (baseline)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from boardnet.nnue import file as nnue


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    sf = shutil.which("stockfish") or "/usr/games/stockfish"
    with tempfile.TemporaryDirectory() as d:
        plain, comp = Path(d) / "sf.nnue", Path(d) / "sf_leb128.nnue"
        subprocess.run([sf], input=f"uci\nexport_net {plain}\nquit\n", text=True, capture_output=True, check=True)
        net = nnue.read_net(plain)
        w_plain = _time(lambda: nnue.write_net(net, Path(d) / "p.nnue"))
        w_comp = _time(lambda: nnue.write_leb128_net(net, comp))
        r_plain = _time(lambda: nnue.read_net(plain))
        r_comp = _time(lambda: nnue.read_leb128_net(comp))
        ps, cs = plain.stat().st_size, comp.stat().st_size
    print(f"size: plain {ps:,} B, leb128 {cs:,} B ({cs / ps:.2f}x)")
    print(f"read: leb128 {r_comp:.3f} s, plain {r_plain:.3f} s (baseline), ratio {r_comp / r_plain:.1f}x")
    print(f"write: leb128 {w_comp:.3f} s, plain {w_plain:.3f} s (baseline), ratio {w_comp / w_plain:.1f}x")


if __name__ == "__main__":
    main()
