"""``boardnet nnue eval`` prints the engine's value."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import fixture_path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "boardnet", *args], capture_output=True, text=True, timeout=120)


def test_nnue_eval_cli(tmp_path: Path) -> None:
    path = tmp_path / "kp.nnue"
    with gzip.open(fixture_path("nnue", "halfkp_rand_a.nnue.gz"), "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    row = json.loads(fixture_path("nnue", "halfkp_rand_a.evals.json").read_text())["positions"][5]
    r = _cli("nnue", "eval", str(path), row["fen"])
    assert r.returncode == 0, r.stderr
    assert f"NNUE evaluation {row['sf12_eval_printed']} (white side); raw {row['raw_int']}" in r.stdout
    bad = _cli("nnue", "eval", str(path), "not a fen")
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "FEN" in bad.stderr
    trunc = tmp_path / "t.nnue"
    trunc.write_bytes(path.read_bytes()[:1000])
    r = _cli("nnue", "eval", str(trunc), row["fen"])
    assert r.returncode == 2 and "file size" in r.stderr and "Traceback" not in r.stderr


def test_nnue_eval_cli_modern_engines() -> None:
    gz = fixture_path("nnue_modern", "nn-37f18f62d772.nnue.gz")  # SF17.1 / SF18 small net, read gzipped
    fen = "8/1p4B1/P7/5N2/1k6/5K2/8/8 b - - 0 4"
    r = _cli("nnue", "eval", str(gz), fen)
    assert r.returncode == 0, r.stderr
    assert "engine sf18: Stockfish 17.1 / 18 small net" in r.stdout and "bucket 1 (side to move)" in r.stdout
    assert "Final evaluation" not in r.stdout  # that line is the big net's (with the small one where chosen)
    bad = _cli("nnue", "eval", str(gz), fen, "--engine", "sf16")
    assert bad.returncode == 2 and "Stockfish 17.1 / 18 small net" in bad.stderr and "Stockfish 16 net" in bad.stderr
    info = _cli("inspect", str(fixture_path("nnue_modern", "nn-c288c895ea92.nnue.gz")))
    assert info.returncode == 0 and "Stockfish 18 big net" in info.stdout and "0xEC102EF2" in info.stdout


def test_nnue_eval_hostile_inputs(tmp_path: Path, capsys) -> None:
    """33 pieces, a missing path, a directory, a FIFO, a gzip file named .nnue: one `error:` line each;
    a .nnue.gz is read directly and evaluates as its inflated file does."""
    import os

    from boardnet.cli import main

    gz = fixture_path("nnue", "halfkp_rand_a.nnue.gz")
    row = json.loads(fixture_path("nnue", "halfkp_rand_a.evals.json").read_text())["positions"][5]
    assert main(["nnue", "eval", str(gz), row["fen"]]) == 0
    assert f"NNUE evaluation {row['sf12_eval_printed']} (white side); raw {row['raw_int']}" in capsys.readouterr().out
    named = tmp_path / "g.nnue"
    named.write_bytes(gz.read_bytes())
    os.mkfifo(tmp_path / "f.nnue")
    full = "rnbqkbnr/pppppppp/8/8/3Q4/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1"  # 33 pieces: IndexError/eval before
    for net, fen, msg in ((gz, full, "33 pieces (17 white, 16 black)"), (tmp_path / "nope.nnue", row["fen"],
                          "nope.nnue: no such file"), (tmp_path, row["fen"], "is a directory"),
                          (tmp_path / "f.nnue", row["fen"], "named pipe"),
                          (named, row["fen"], "g.nnue: is gzip-compressed; gunzip it first or name it .nnue.gz")):
        assert main(["nnue", "eval", str(net), fen]) == 2, msg
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and msg in err[0]
