"""Text training data ``fen | score | result`` (one position per line); ``.binpack`` is in ``nnue_binpack``.

``score``: engine score of the side to move in Stockfish internal units (int16 range); ``result``: game
result for the side to move, -1, 0 or 1. Blank lines and ``#`` comments are ignored; lines with an illegal
FEN or unreadable fields are skipped and counted (:class:`TextStats`). Records come back in the ``.bin``
structured layout (move 0 = none, ply from the FEN move number) so the same vectorized pipeline decodes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import chess
import numpy as np

from boardnet.data.nnue_bin import RECORD_DTYPE, pack_record
from boardnet.errors import FormatError

TEXT_SUFFIXES = (".txt", ".plain", ".fens")


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
    if not board.is_valid():
        raise ValueError(f"illegal position ({board.status()!r})")
    score, result = int(parts[1]), int(parts[2])
    if not -32767 <= score <= 32767:
        raise ValueError(f"score {score} out of int16 range")
    if result not in (-1, 0, 1):
        raise ValueError(f"result {result} not in -1, 0, 1")
    return board, score, result


def read_text(path: str | os.PathLike[str]) -> tuple[np.ndarray, TextStats]:
    """All good lines of a text file as ``RECORD_DTYPE`` records, and the counts."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormatError(p, "no such file") from None
    except UnicodeDecodeError as err:
        raise FormatError(p, "not UTF-8 text", offset=err.start) from None
    stats = TextStats()
    recs = []
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
        recs.append(pack_record(board, score, None, min(ply, 65535), result))
    stats.positions = len(recs)
    return np.frombuffer(b"".join(recs), dtype=RECORD_DTYPE), stats


def read_binpack(path: str | os.PathLike[str]) -> np.ndarray:
    """Stockfish ``.binpack`` as ``RECORD_DTYPE`` records: see :mod:`boardnet.data.nnue_binpack`."""
    from boardnet.data.nnue_binpack import read_binpack as _read_binpack

    return _read_binpack(path)
