"""``boardnet arena`` with chess players: the maia-1300 net (boardnet's search) and real Stockfish 15.1 over UCI,
colour-alternated pairs from openings, games replayed by python-chess to check every move and every ending."""

from __future__ import annotations

import re

import chess
import chess.engine
import chess.pgn
import numpy as np
import pytest

from boardnet.cli import main
from boardnet.core.errors import ConfigError, FormatError
from boardnet.lc0.arena import claims, parse_uci_spec, random_openings, read_openings
from tests.conftest import fixture_path

MAIA = ("lc0", "maia-1300.pb.gz")
# One FEN (black to move) and one EPD line with operations: the openings of the two pairs.
OPENINGS = ("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1\n"
            "# a comment line\n"
            'r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - bm Bb5; id "ruy";\n')


def _games(path) -> list[chess.pgn.Game]:
    out = []
    with open(path, encoding="utf-8") as fh:
        while (game := chess.pgn.read_game(fh)) is not None:
            out.append(game)
    return out


def _check_game(game: chess.pgn.Game, max_plies: int) -> chess.Board:
    """Replays the game move by move (each must be legal) and checks its recorded ending against the rules."""
    assert not game.errors, game.errors
    board = game.board()
    plies = 0
    for move in game.mainline_moves():
        assert move in board.legal_moves and board.outcome(claim_draw=False) is None
        board.push(move)
        plies += 1
    ending, result = game.headers["Termination"], game.headers["Result"]
    outcome = board.outcome(claim_draw=False)
    if ending == "max_plies":
        assert outcome is None and plies == max_plies and result == "1/2-1/2"
    else:
        assert outcome is not None and outcome.termination.name.lower() == ending and outcome.result() == result
    return board


def _report(text: str) -> tuple[int, int, int]:
    m = re.search(r"A (.+?): (\d+) wins  B (.+?): (\d+) wins  draws: (\d+)", text)
    assert m, text
    return int(m[2]), int(m[5]), int(m[4])


def _score_of_a(games: list[chess.pgn.Game], a: str) -> tuple[int, int, int]:
    """A's wins, draws, losses read from the PGN (names and results), independent of the arena's tally."""
    w = d = lost = 0
    for g in games:
        res = g.headers["Result"]
        if res == "1/2-1/2":
            d += 1
        elif (res == "1-0") == (g.headers["White"] == a):
            w += 1
        else:
            lost += 1
    return w, d, lost


def test_maia_net_vs_stockfish(tmp_path, capsys, stockfish):
    ops, pgn = tmp_path / "ops.epd", tmp_path / "games.pgn"
    ops.write_text(OPENINGS)
    net = str(fixture_path(*MAIA))
    sf = f"uci:{stockfish}:nodes=1"
    assert main(["arena", net, sf, "--games", "4", "--playouts", "8", "--openings", str(ops),
                 "--max-plies", "160", "--pgn", str(pgn), "--no-progress"]) == 0
    text = capsys.readouterr().out
    games = _games(pgn)
    assert len(games) == 4 and "chess: 4 games" in text and "openings: 2" in text
    starts = [chess.Board(line.split("#")[0].strip()) if i == 0 else chess.Board.from_epd(line)[0]
              for i, line in enumerate(OPENINGS.splitlines()) if not line.startswith("#")]
    for k, game in enumerate(games):
        _check_game(game, 160)
        start = starts[k // 2]
        assert game.board().board_fen() == start.board_fen() and game.board().turn == start.turn
        # A (the net) has the side to move in the pair's first game, B in the second.
        mover = net if k % 2 == 0 else sf
        assert game.headers["White" if start.turn == chess.WHITE else "Black"] == mover
    wdl = _report(text)
    assert wdl == _score_of_a(games, net) and sum(wdl) == 4
    assert re.search(r"A vs B: Elo ([+-]\d+\.\d|[+-]inf)", text) and "pairs (A scored" in text
    assert re.search(r"^endings: .*\d", text, re.M)


def test_stockfish_vs_stockfish_random_openings_and_cap(tmp_path, capsys, stockfish):
    pgn = tmp_path / "sf.pgn"
    args = ["arena", f"uci:{stockfish}:depth=4", f"uci:{stockfish}:nodes=1", "--games", "4",
            "--random-openings", "3", "--seed", "5", "--pgn", str(pgn), "--no-progress"]
    assert main(args) == 0
    text = capsys.readouterr().out
    games = _games(pgn)
    for g in games:
        _check_game(g, 400)
    assert _report(text) == _score_of_a(games, f"uci:{stockfish}:depth=4")
    firsts = [[m.uci() for m in g.mainline_moves()][:3] for g in games]
    assert firsts[0] == firsts[1] and firsts[2] == firsts[3]  # a pair shares its 3-ply random opening
    assert "A vs B: Elo" in text
    # The ply cap: every game still going after 6 plies is a draw.
    assert main([*args[:4], "2", "--max-plies", "6", "--pgn", str(pgn), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "draws: 2" in text and "endings: max_plies 2" in text
    assert all(_check_game(g, 6) for g in _games(pgn))


def test_sprt_stops_a_chess_match(capsys, stockfish):
    assert main(["arena", f"uci:{stockfish}:depth=6", f"uci:{stockfish}:nodes=1", "--games", "40",
                 "--random-openings", "2", "--sprt", "0,400,0.2,0.2", "--no-progress"]) == 0
    text = capsys.readouterr().out
    played = int(re.search(r"chess: (\d+) games", text)[1])
    assert played < 40 and played % 2 == 0 and "SPRT elo0=0 elo1=400" in text and "accepted" in text


def test_uci_specs():
    argv, limit = parse_uci_spec("uci:/usr/games/stockfish:nodes=1")
    assert argv == ["/usr/games/stockfish"] and limit == chess.engine.Limit(nodes=1)
    assert parse_uci_spec("uci:sf:depth=3")[1] == chess.engine.Limit(depth=3)
    assert parse_uci_spec("uci:sf:250")[1] == chess.engine.Limit(time=0.25)  # pbrain's bare milliseconds
    assert parse_uci_spec("uci:python -m boardnet uci n.pb.gz")[0] == ["python", "-m", "boardnet", "uci", "n.pb.gz"]
    assert parse_uci_spec("uci:sf")[1] == chess.engine.Limit(time=1.0)
    for bad in ("uci:", "uci:sf:nodes=0", "uci:sf:depth=x", "uci:'sf"):
        with pytest.raises(ConfigError):
            parse_uci_spec(bad)
    assert claims("uci:sf") and claims(str(fixture_path(*MAIA))) and not claims("pure:10")
    assert not claims("pbrain:x:100") and not claims(str(fixture_path("azg", "best_policy_6_6_4.model")))


def test_opening_files(tmp_path):
    f = tmp_path / "ops.epd"
    f.write_text(OPENINGS)
    boards = read_openings(f)
    assert [b.turn for b in boards] == [chess.BLACK, chess.WHITE] and boards[1].fullmove_number == 1
    for text, why in (("not a fen\n", r"line 1: not a FEN or EPD"),
                      ("8/8/8/8/8/8/8/8 w - - 0 1\n", r"line 1: not a legal position"),
                      ("\n7k/5QQ1/8/8/8/8/8/K7 b - - 0 1\n", r"line 2: the game is already over"),
                      ("# only a comment\n", "no positions")):
        f.write_text(text)
        with pytest.raises(FormatError, match=rf"ops.epd: {why}"):
            read_openings(f)
    ops = random_openings(3, 4, np.random.default_rng(1))
    assert [len(b.move_stack) for b in ops] == [4, 4, 4]
    assert [b.fen() for b in ops] == [b.fen() for b in random_openings(3, 4, np.random.default_rng(1))]


def test_bad_players_are_one_error_line(tmp_path, capsys, stockfish):
    assert main(["arena", f"uci:{tmp_path / 'no-engine'}", f"uci:{stockfish}:nodes=1", "--games", "2"]) == 2
    assert "cannot start" in capsys.readouterr().err
    assert main(["arena", "pure:10", f"uci:{stockfish}:nodes=1", "--games", "2"]) == 2
    assert "not a chess player" in capsys.readouterr().err
    assert main(["arena", "pure:10", "pure:2", "--max-plies", "9"]) == 2  # a chess option in a Gomoku match
    assert "only chess matches" in capsys.readouterr().err
    assert main(["arena", f"uci:{stockfish}", f"uci:{stockfish}", "--size", "9"]) == 2
    assert "--size" in capsys.readouterr().err
