"""Text training data: ``fen | score | result`` lines (``.txt``, ``.fens``) and Stockfish's ``.plain``.

Line format: ``score`` is the engine score of the side to move in Stockfish internal units (int16 range);
``result`` the game result for the side to move, -1, 0 or 1; no move (move 0), ply from the FEN move number.
Blank lines and ``#`` comments are ignored.

``.plain`` (Stockfish tools ``convert``, spec nnue.md §12.3): one ``key value`` per line, ``fen <FEN>``,
``move <uci>``, ``score <int>``, ``ply <int>``, ``result <1|0|-1>``, then a line ``e`` ends the record; score
and result from the side to move. The move must be legal in the position (``e1g1`` or ``e1h1`` for castling).

Lines or records with an illegal FEN or move, or unreadable fields, are skipped and counted
(:class:`TextStats`). Records come back in the ``.bin`` structured layout so the same vectorized pipeline
decodes them. ``.binpack`` is in :mod:`boardnet.nnue.data.binpack`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import chess
import numpy as np

from boardnet.core.errors import FormatError
from boardnet.nnue.data.bin import RECORD_DTYPE, pack_record

TEXT_SUFFIXES = (".txt", ".plain", ".fens")
PLAIN_KEYS = ("fen", "move", "score", "ply", "result")


@dataclass
class TextStats:
    lines: int = 0
    positions: int = 0
    skipped: int = 0
    first_bad: list[str] = field(default_factory=list)  # "line N: why" of the first few skipped lines

    def summary(self) -> str:
        more = f" (first: {'; '.join(self.first_bad)})" if self.first_bad else ""
        return f"{self.positions} positions from {self.lines} lines, {self.skipped} skipped{more}"


def parse_text_line(line: str) -> tuple[chess.Board, int, int]:
    """``(board, score, result)`` of one ``fen | score | result`` line; ValueError says what is wrong."""
    parts = [p.strip() for p in line.split("|")]
    if len(parts) != 3:
        raise ValueError(f"expected 'fen | score | result', got {len(parts)} fields")
    board = chess.Board(parts[0])
    score, result = int(parts[1]), int(parts[2])
    _check_labels(board, score, result)
    return board, score, result


def _check_labels(board: chess.Board, score: int, result: int) -> None:
    if not board.is_valid():
        raise ValueError(f"illegal position ({board.status()!r})")
    if not -32767 <= score <= 32767:
        raise ValueError(f"score {score} out of int16 range")
    if result not in (-1, 0, 1):
        raise ValueError(f"result {result} not in -1, 0, 1")


def parse_plain_record(fields: dict[str, str]) -> tuple[chess.Board, int, chess.Move | None, int, int]:
    """``(board, score, move, ply, result)`` of one ``.plain`` record; ValueError says what is wrong."""
    missing = [k for k in PLAIN_KEYS if k not in fields]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    board = chess.Board(fields["fen"])
    score, ply, result = int(fields["score"]), int(fields["ply"]), int(fields["result"])
    _check_labels(board, score, result)
    if not 0 <= ply <= 0xFFFF:
        raise ValueError(f"ply {ply} out of range")
    return board, score, board.parse_uci(fields["move"]) or None, ply, result  # "0000": no move


def _plain_records(text: str, stats: TextStats) -> Iterator[tuple[chess.Board, int, chess.Move | None, int, int]]:
    fields: dict[str, str] = {}
    start = 0
    for no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if not fields:
            start = no
        if line != "e":
            key, _, value = line.partition(" ")
            fields[key] = value.strip()
            continue
        stats.lines += 1
        try:
            yield parse_plain_record(fields)
        except ValueError as err:
            stats.skipped += 1
            if len(stats.first_bad) < 3:
                stats.first_bad.append(f"record at line {start}: {err}")
        fields = {}
    if fields:
        stats.lines += 1
        stats.skipped += 1
        if len(stats.first_bad) < 3:
            stats.first_bad.append(f"record at line {start}: no closing 'e' line")


def _line_records(text: str, stats: TextStats) -> Iterator[tuple[chess.Board, int, chess.Move | None, int, int]]:
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        stats.lines += 1
        try:
            board, score, result = parse_text_line(line)
        except ValueError as err:
            stats.skipped += 1
            if len(stats.first_bad) < 3:
                stats.first_bad.append(f"line {no}: {err}")
            continue
        ply = 2 * (board.fullmove_number - 1) + (board.turn == chess.BLACK)
        yield board, score, None, min(ply, 65535), result


def read_text(path: str | os.PathLike[str], stats: TextStats | None = None) -> tuple[np.ndarray, TextStats]:
    """All good lines (``.plain``: records) of a text file as ``RECORD_DTYPE`` records, and the counts (added
    to ``stats`` when given)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(p, "no such file") from None
    except UnicodeDecodeError as err:
        raise FormatError(p, "not UTF-8 text", offset=err.start) from None
    stats = stats if stats is not None else TextStats()
    parse = _plain_records if p.suffix.lower() == ".plain" else _line_records
    recs = [pack_record(*entry) for entry in parse(text, stats)]
    stats.positions += len(recs)
    return np.frombuffer(b"".join(recs), dtype=RECORD_DTYPE), stats


def format_text(entries: Iterable[tuple[chess.Board, int, chess.Move | None, int, int]], plain: bool) -> str:
    """Text of ``(board, score, move, ply, result)`` entries: ``.plain`` records or ``fen | score | result``
    lines (which keep no move and take the ply from the FEN)."""
    out = []
    for board, score, move, ply, result in entries:
        if plain:
            uci = move.uci() if move is not None else "0000"
            out.append(f"fen {board.fen()}\nmove {uci}\nscore {score}\nply {ply}\nresult {result}\ne\n")
        else:
            out.append(f"{board.fen()} | {score} | {result}\n")
    return "".join(out)
