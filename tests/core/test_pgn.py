"""The one game-acceptance rule of every PGN reader: what is used, what is skipped (and why), linear cost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from boardnet.core.errors import FormatError
from boardnet.core.pgn import GAME_OVER_RULES, GameStats, iter_games, read_games

GAMES = {
    "used": '[Result "1-0"]\n\n1. e4 e5 2. Bc4 Nc6 3. Qh5 Nf6 4. Qxf7# 1-0\n',
    "null move": '[Result "1-0"]\n\n1. e4 -- 2. d4 e5 1-0\n',
    "variant Crazyhouse": '[Variant "Crazyhouse"]\n[Result "1-0"]\n\n1. e4 d5 2. exd5 Qxd5 3. P@e4 1-0\n',
    "variant Atomic": '[Variant "Atomic"]\n[Result "1-0"]\n\n1. e4 d5 2. exd5 1-0\n',
    "variant Chess960": '[Variant "Chess960"]\n[Result "1-0"]\n\n1. e4 d5 1-0\n',
    "variant Foo": '[Variant "Foo"]\n[Result "1-0"]\n\n1. e4 d5 1-0\n',
    "illegal start position": '[FEN "8/8/8/8/8/8/8/8 w - - 0 1"]\n[SetUp "1"]\n[Result "1-0"]\n\n1-0\n',
    # 33 pieces: a full board and one more white queen on e4 (the trailing space keeps the key unique)
    "illegal start position ": '[FEN "rnbqkbnr/pppppppp/8/8/4Q3/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1"]\n'
                               '[SetUp "1"]\n[Result "1-0"]\n\n1. Nf3 1-0\n',
    "illegal or unreadable moves": '[Result "0-1"]\n\n1. e4 e5 2. Ke3 Nf6 0-1\n',
    "unfinished (result *)": '[Result "*"]\n\n1. e4 e5 *\n',
    "no moves": '[Result "1/2-1/2"]\n\n1/2-1/2\n',
}


def shuffle_game(plies: int) -> str:
    """Knights out and back (a legal game that repeats its start position every 4 plies)."""
    cyc = ["Nf3", "Nf6", "Ng1", "Ng8"]
    moves = [(f"{i // 2 + 1}. " if i % 2 == 0 else "") + cyc[i % 4] for i in range(plies)]
    return '[Result "1/2-1/2"]\n\n' + " ".join(moves) + " 1/2-1/2\n"


def test_each_rule_skips_and_counts(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "all.pgn"
    path.write_text("\n".join(GAMES.values()))
    stats = GameStats()
    used = list(read_games(path, stats))
    assert [len(g.moves) for g in used] == [7] and used[0].white_score == 1
    assert used[0].board().is_checkmate()
    want: dict[str, int] = {}
    for why in list(GAMES)[1:]:
        want[why.strip()] = want.get(why.strip(), 0) + 1
    assert stats.used == 1 and stats.skipped == len(GAMES) - 1 and stats.reasons == want
    assert "null move: 1" in stats.summary()
    out, err = capfd.readouterr()
    assert out == err == ""  # python-chess's complaints are counted, never printed


def test_moves_after_the_game_ended_are_refused_in_linear_time(tmp_path: Path) -> None:
    """A 20,000-ply game (issue 19: 225 s before) goes on long after its fivefold repetition."""
    path = tmp_path / "long.pgn"
    path.write_text(shuffle_game(20_000))
    start = time.perf_counter()
    games = list(iter_games(path))
    assert time.perf_counter() - start < 8
    assert [g.why for g in games] == [GAME_OVER_RULES] and len(games[0].moves) == 16
    # one ply short of the fifth repetition: used
    assert [g.why for g in iter_games(_write(tmp_path / "short.pgn", shuffle_game(15)))] == [None]


def test_75_move_rule(tmp_path: Path) -> None:
    """Kings and rooks wander (no capture, no position 3 times); the move after ply 150 is refused."""
    import random

    import chess

    fen = "r3k3/8/8/8/8/8/8/R3K3 w - - 0 1"
    board, rng, seen, sans = chess.Board(fen), random.Random(0), {}, []
    while len(sans) < 152:
        options = []
        for move in board.legal_moves:
            if board.is_capture(move):
                continue
            board.push(move)
            key = board.epd()
            if seen.get(key, 0) < 2 and not board.is_checkmate() and not board.is_stalemate():
                options.append((move, key))
            board.pop()
        move, key = rng.choice(options)
        sans.append(board.san(move))
        board.push(move)
        seen[key] = seen.get(key, 0) + 1
    text = f'[FEN "{fen}"]\n[SetUp "1"]\n[Result "1/2-1/2"]\n\n' + " ".join(sans) + " 1/2-1/2\n"
    (game,) = iter_games(_write(tmp_path / "g.pgn", text))
    assert game.why == GAME_OVER_RULES and len(game.moves) == 150
    (game,) = iter_games(_write(tmp_path / "g.pgn", text.replace(" ".join(sans[150:]), "")))
    assert game.why is None and len(game.moves) == 150


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_pgn_says_so(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "e.pgn"
    path.write_bytes(content)
    with pytest.raises(FormatError, match="no games"):
        list(iter_games(path))


def test_fifo_and_directory_are_refused_without_blocking(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "f.pgn"
    os.mkfifo(fifo)
    with pytest.raises(FormatError, match="FIFO"):
        list(iter_games(fifo))
    with pytest.raises(FormatError, match="is a directory"):
        list(iter_games(tmp_path))
