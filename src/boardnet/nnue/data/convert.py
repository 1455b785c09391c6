"""NNUE training-data files of any kind -> any other (Stockfish's ``convert from to``), and their summaries.

Formats by suffix: ``.bin`` (PackedSfenValue), ``.binpack``, ``.plain`` (Stockfish's text records), ``.txt`` /
``.fens`` (``fen | score | result`` lines). Every reader gives ``RECORD_DTYPE`` records; a writer takes them
back to ``(board, score, move, ply, result)`` entries where its format needs boards (binpack, text) and
writes ``.bin`` records as they are. Positions whose move is not stored (text data) are written without one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chess
import numpy as np

from boardnet.core.errors import FormatError
from boardnet.core.io import atomic_write, check_user_file
from boardnet.nnue.data.bin import RECORD_DTYPE, Decoded, count_records, decode_move, decode_records, read_raw
from boardnet.nnue.data.binpack import (
    BinpackStats,
    NeedsPythonWriter,
    binpack_blocks,
    write_binpack,
    write_binpack_records,
)
from boardnet.nnue.data.text import TEXT_SUFFIXES, TextStats, format_text, read_text

Entry = tuple[chess.Board, int, "chess.Move | None", int, int]
SUFFIXES = (".bin", ".binpack", *TEXT_SUFFIXES)
_BLOCK = 1 << 16  # .bin records read per block


def data_kind(path: str | os.PathLike[str], *, must_exist: bool = False) -> str:
    """``bin``, ``binpack``, ``plain`` or ``text`` from the file name; FormatError for anything else (and, with
    ``must_exist``, for a missing file)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise FormatError(path, f"unknown training-data suffix {suffix!r}; expected one of {', '.join(SUFFIXES)}")
    if must_exist:
        check_user_file(path)
    return {".bin": "bin", ".binpack": "binpack", ".plain": "plain"}.get(suffix, "text")


def record_blocks(
    path: str | os.PathLike[str], stats: TextStats | BinpackStats | None = None
) -> Iterator[np.ndarray]:
    """The file's records in file order, in blocks (a ``.binpack`` chunk, 65,536 ``.bin`` records, or a whole
    text file), so big binary files are never held in memory at once; ``.bin`` records are validated as every other
reader's are (a bad one is a FormatError naming file, record and offset). ``stats``: the counts of a text file
    (:class:`TextStats`: good and skipped lines/records) or of a ``.binpack`` (:class:`BinpackStats`)."""
    kind = data_kind(path, must_exist=True)
    if kind == "binpack":
        yield from binpack_blocks(path, stats if isinstance(stats, BinpackStats) else None)
    elif kind == "bin":
        n = count_records(path)
        for start in range(0, n, _BLOCK):
            block = read_raw(path, start, _BLOCK)
            decode_records(block, path=path, first_index=start)  # every path refuses the same bad records
            yield block
    else:
        yield read_text(path, stats if isinstance(stats, TextStats) else None)[0]


def entries(records: np.ndarray) -> Iterator[Entry]:
    """``(board, score, move or None, ply, result)`` of each record (boards rebuilt with python-chess)."""
    dec, _ = decode_records(records)
    for i in range(len(dec)):
        yield _entry(dec, i)


def _entry(dec: Decoded, i: int) -> Entry:
    board = dec.board(i)
    code = int(dec.move[i])
    move = decode_move(code, board.turn) if code else None
    return board, int(dec.score[i]), move, int(dec.ply[i]), int(dec.result[i])


def convert_data(src: str | os.PathLike[str], dst: str | os.PathLike[str], text_stats: TextStats | None = None,
                 report: Callable[[int], None] | None = None) -> int:
    """Write every position of ``src`` to ``dst`` in ``dst``'s format (atomically); returns the count. A text
    ``src``'s skipped lines/records are counted in ``text_stats``; ``report(positions read so far)`` is called
    after each block (a ``.binpack`` the compiled encoder cannot take is read again, counting from 0)."""
    data_kind(src, must_exist=True)
    kind = data_kind(dst)

    def blocks(stats: TextStats | BinpackStats | None) -> Iterator[np.ndarray]:
        return _reported(record_blocks(src, stats), report)

    if kind == "bin":
        total = 0

        def write(tmp: Path) -> None:
            nonlocal total
            with open(tmp, "wb") as fh:
                for block in blocks(text_stats):
                    fh.write(np.ascontiguousarray(block, dtype=RECORD_DTYPE).tobytes())
                    total += len(block)

        atomic_write(dst, write)
        return total
    if kind == "binpack" and (n := _compiled_binpack(blocks, dst, text_stats)) is not None:
        return n
    items = (e for block in blocks(text_stats) for e in entries(block))
    if kind == "binpack":
        counted = _Counted(items)
        try:
            write_binpack(dst, counted)
        except ValueError as err:
            raise FormatError(src, f"cannot be written as .binpack: {err}") from None
        return counted.n
    lines: list[str] = []
    n = 0
    for block in blocks(text_stats):
        lines.append(format_text(entries(block), plain=kind == "plain"))
        n += len(block)
    text = "".join(lines)
    atomic_write(dst, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return n


def _compiled_binpack(src_blocks: Callable[[TextStats], Iterator[np.ndarray]], dst: str | os.PathLike[str],
                      text_stats: TextStats | None) -> int | None:
    """The source's blocks (``src_blocks(stats)``) -> ``.binpack`` by the compiled encoder: the position count,
    or None when a record needs the Python writer (the caller then runs it, which handles or refuses that
    record exactly)."""
    attempt = TextStats()  # copied to text_stats only on success: the Python writer re-reads the source
    blocks = _Counted(src_blocks(attempt), size=len)
    try:
        write_binpack_records(dst, blocks)
    except NeedsPythonWriter:
        return None
    if text_stats is not None:
        vars(text_stats).update(vars(attempt))
    return blocks.n


def _reported(blocks: Iterator[np.ndarray], report: Callable[[int], None] | None) -> Iterator[np.ndarray]:
    """``blocks`` as they are, calling ``report(records so far)`` after each one is handed out."""
    n = 0
    for block in blocks:
        yield block
        n += len(block)
        if report is not None:
            report(n)


class _Counted:
    """Iterator wrapper that counts what it hands out (``size`` of each item: 1, or e.g. ``len`` of a block)."""

    def __init__(self, it: Iterator[Any], size: Callable[[Any], int] = lambda _: 1) -> None:
        self.it, self.size, self.n = it, size, 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.it:
            self.n += self.size(item)
            yield item


def data_summary(path: str | os.PathLike[str], show: int = 3) -> str:
    """Format, size, position count (``.binpack``: chunks and move chains too) and the first ``show`` positions."""
    kind = data_kind(path, must_exist=True)
    stats = BinpackStats() if kind == "binpack" else TextStats()
    n, first = 0, []
    for block in record_blocks(path, stats):
        n += len(block)
        if len(first) < show:
            first += [e for _, e in zip(range(show - len(first)), entries(block), strict=False)]
    lines = [f"file: {path}", f"format: {kind}", f"size: {Path(path).stat().st_size:,} bytes", f"positions: {n:,}"]
    if isinstance(stats, BinpackStats):
        lines.append(f"chunks: {stats.chunks}, move chains: {stats.stems:,}")
    elif kind != "bin":
        lines.append(f"read: {stats.summary()}")
    for board, score, move, ply, result in first:
        uci = move.uci() if move is not None else "-"
        lines.append(f"  {board.fen()} | score {score} | move {uci} | ply {ply} | result {result}")
    return "\n".join(lines)
