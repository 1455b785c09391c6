"""Training-data conversion between .bin, .binpack, .plain and .txt, and the `boardnet nnue data` command."""

from __future__ import annotations

from pathlib import Path

import pytest

from boardnet.cli import main
from boardnet.core.errors import FormatError
from boardnet.nnue.data.bin import decode_records, read_raw
from boardnet.nnue.data.binpack import read_binpack, write_binpack
from boardnet.nnue.data.convert import convert_data, data_summary
from tests.nnue.data.test_binpack import random_games


@pytest.fixture(scope="module")
def binpack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conv") / "g.binpack"
    write_binpack(path, random_games(12, seed=8), chunk_size=2000)  # castling, ep, under-promotions, chunks
    return path


def test_round_trips_are_exact(binpack: Path, tmp_path: Path) -> None:
    """binpack -> bin -> plain -> bin gives the same records; bin -> binpack gives the same positions, and the
    same bytes when the source was written with the default (1 MiB) chunks, like Stockfish's files."""
    as_bin, as_plain, back_bin, back_pack = (tmp_path / n for n in ("a.bin", "a.plain", "b.bin", "b.binpack"))
    n = convert_data(binpack, as_bin)
    assert n > 500
    assert convert_data(as_bin, as_plain) == n
    assert convert_data(as_plain, back_bin) == n
    assert back_bin.read_bytes() == as_bin.read_bytes()
    assert convert_data(as_bin, back_pack) == n
    assert read_binpack(back_pack).tobytes() == read_binpack(binpack).tobytes()
    one_chunk = tmp_path / "one.binpack"
    write_binpack(one_chunk, random_games(12, seed=8))
    again = tmp_path / "again.binpack"
    convert_data(back_pack, again)
    assert again.read_bytes() == back_pack.read_bytes() == one_chunk.read_bytes()


def test_text_keeps_positions_and_labels(binpack: Path, tmp_path: Path) -> None:
    as_bin, as_txt = tmp_path / "a.bin", tmp_path / "a.txt"
    convert_data(binpack, as_bin)
    convert_data(as_bin, as_txt)
    txt_bin = tmp_path / "t.bin"
    convert_data(as_txt, txt_bin)
    a, _ = decode_records(read_raw(as_bin))
    b, _ = decode_records(read_raw(txt_bin))
    assert [a.fen(i) for i in range(len(a))] == [b.fen(i) for i in range(len(b))]
    assert (a.score == b.score).all() and (a.result == b.result).all()
    assert (b.move == 0).all()  # the line format stores no move


def test_summary_and_cli(binpack: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text = data_summary(binpack)
    assert "format: binpack" in text and "move chains:" in text and text.count(" | score ") == 3
    out = tmp_path / "c.plain"
    assert main(["nnue", "data", str(binpack), str(out)]) == 0
    assert "positions to" in capsys.readouterr().out and out.read_text().startswith("fen ")
    assert main(["nnue", "data", str(out)]) == 0
    assert "format: plain" in capsys.readouterr().out
    cut = tmp_path / "cut.plain"
    cut.write_text(out.read_text()[:300])  # a record cut short: counted, not fatal
    assert main(["nnue", "data", str(cut), str(tmp_path / "cut.bin")]) == 0
    assert "1 skipped (first: record at line" in capsys.readouterr().out
    assert main(["inspect", str(binpack)]) == 0
    assert "format: binpack" in capsys.readouterr().out
    with pytest.raises(FormatError, match="unknown training-data suffix '.csv'"):
        convert_data(binpack, tmp_path / "x.csv")
    for missing in ("m.bin", "m.binpack", "m.plain"):
        with pytest.raises(FormatError, match="no such file"):
            data_summary(tmp_path / missing)
        with pytest.raises(FormatError, match="no such file"):
            convert_data(tmp_path / missing, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("suffix", [".bin", ".binpack"])
def test_progress_lines_without_a_terminal(binpack: Path, tmp_path: Path, suffix: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """A line per 65,536-record block at --progress-every 0 and a closing count on stderr; stdout and the
    written file as without progress."""
    as_bin = tmp_path / "a.bin"
    convert_data(binpack, as_bin)
    one = as_bin.read_bytes()
    n = 140_000 // (len(one) // 40) + 1
    big = tmp_path / "big.bin"
    big.write_bytes(one * n)  # 3 blocks
    total = n * len(one) // 40
    quiet, talk = tmp_path / f"q{suffix}", tmp_path / f"t{suffix}"
    assert main(["nnue", "data", str(big), str(quiet), "--no-progress"]) == 0
    out_quiet, err_quiet = capsys.readouterr()
    assert main(["nnue", "data", str(big), str(talk), "--progress-every", "0"]) == 0
    out, err = capsys.readouterr()
    assert err_quiet == "" and out == out_quiet.replace(str(quiet), str(talk))
    assert talk.read_bytes() == quiet.read_bytes()
    lines = err.splitlines()
    assert [ln.split(" (")[0] for ln in lines[:-1]] == [f"nnue data: {k:,}/{total:,} positions"
                                                         for k in (65_536, 131_072, total)]
    assert lines[-1].startswith(f"nnue data: done, {total:,} positions in ") and lines[-1].endswith(str(talk))


def test_a_record_binpack_cannot_hold_is_one_error(binpack: Path, tmp_path: Path) -> None:
    """The compiled writer hands an odd record to the Python writer, whose refusal names the file and position;
    no partial output is left behind."""
    as_bin = tmp_path / "a.bin"
    convert_data(binpack, as_bin)
    raw = read_raw(as_bin).copy()
    raw["ply"][123] = 0x4000  # binpack stores 14 bits of ply
    odd = tmp_path / "odd.bin"
    odd.write_bytes(raw.tobytes())
    with pytest.raises(FormatError, match=r"odd\.bin.*position 123: .*ply 16384"):
        convert_data(odd, tmp_path / "odd.binpack")
    assert not list(tmp_path.glob("*odd.binpack*"))


def _bad_bin(tmp_path: Path, offset: int, value: bytes) -> Path:
    import chess

    from boardnet.nnue.data.bin import write_bin

    board = chess.Board()
    path = tmp_path / "bad.bin"
    write_bin(path, [(board, 10, chess.Move.from_uci("e2e4"), 0, 0)] * 3)
    raw = bytearray(path.read_bytes())
    raw[40 + offset:40 + offset + len(value)] = value
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize("suffix", [".bin", ".binpack", ".plain", ".txt"])
def test_bad_bin_record_is_refused_on_every_path(tmp_path: Path, suffix: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Result 5 (valid: -1..1) in record 1: the same error naming file, record and offset for every target
    (.bin -> .bin copied it and exited 0 before; the others did not name the file)."""
    src = _bad_bin(tmp_path, 38, b"\x05")
    out = tmp_path / f"out{suffix}"
    out.write_bytes(b"old")
    assert main(["nnue", "data", str(src), str(out)]) == 2
    assert capsys.readouterr().err == f"error: {src}: offset 78: field result: record 1: result 5 not in -1..1\n"
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["bad.bin", out.name]


def test_bin_to_binpack_with_an_impossible_move_is_one_error(tmp_path: Path) -> None:
    """e2e5 from the start position (AssertionError from python-chess's push before)."""
    src = _bad_bin(tmp_path, 34, ((12 << 6) | 36).to_bytes(2, "little"))
    with pytest.raises(FormatError, match=r"bad.bin: cannot be written as .binpack: position 1: e2e5: not a "
                                          r"pseudo-legal move"):
        convert_data(src, tmp_path / "o.binpack")
    assert not (tmp_path / "o.binpack").exists()


def test_empty_or_odd_bin_input_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    (tmp_path / "e.bin").write_bytes(b"")
    os.mkfifo(tmp_path / "f.bin")
    for argv, msg in ((["e.bin"], "e.bin: empty file: no records"), (["e.bin", "o.binpack"], "e.bin: empty file"),
                      (["f.bin"], "f.bin: is a named pipe"), (["nope.bin", "o.bin"], "nope.bin: no such file")):
        assert main(["nnue", "data", *(str(tmp_path / a) for a in argv)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and msg in err[0]
    assert not (tmp_path / "o.bin").exists() and not (tmp_path / "o.binpack").exists()
