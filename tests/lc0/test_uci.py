"""``boardnet uci NET`` driven as a GUI drives it: python-chess's UCI client on the real maia-1300 net.

Mate positions are real games (Scholar's, Fool's, Légal's, Morphy's Opera game, Blackburne–Shilling and
Englund traps) plus two textbook patterns; each expected move is checked here by a brute-force mate search with
python-chess before the engine is asked.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time

import chess
import chess.engine
import pytest

from boardnet.lc0.search import policy_indices, q_to_cp
from boardnet.lc0.uci import parse_go, parse_position, time_budget
from tests.conftest import ROOT, fixture_path

NET = ("lc0", "maia-1300.pb.gz")
START_TIMEOUT = 180  # seconds for start-up (torch import, ONNX export) on a busy 2-core machine


@pytest.fixture(scope="module")
def engine():
    net = fixture_path(*NET)
    eng = chess.engine.SimpleEngine.popen_uci([sys.executable, "-m", "boardnet", "uci", str(net)],
                                              timeout=START_TIMEOUT, cwd=ROOT)
    eng.ping()  # isready: waits for the net to load
    yield eng
    eng.quit()


def _board(sans: str = "", fen: str | None = None) -> chess.Board:
    board = chess.Board(fen) if fen else chess.Board()
    for san in sans.split():
        board.push_san(san)
    return board


def _forces_mate(board: chess.Board, move: chess.Move, n: int) -> bool:
    """True when ``move`` mates in at most ``n`` moves against every defence (brute force)."""
    board.push(move)
    try:
        if board.is_checkmate():
            return True
        if n == 1 or board.is_game_over():
            return False
        for reply in list(board.legal_moves):
            board.push(reply)
            ok = any(_forces_mate(board, m, n - 1) for m in list(board.legal_moves))
            board.pop()
            if not ok:
                return False
        return True
    finally:
        board.pop()


MATE_IN_1 = {
    "scholar (white, history)": (_board("e4 e5 Bc4 Nc6 Qh5 Nf6"), "h5f7"),
    "fool (black, history)": (_board("f3 e5 g4"), "d8h4"),
    "blackburne-shilling (black, history)": (_board("e4 e5 Nf3 Nc6 Bc4 Nd4 Nxe5 Qg5 Nxf7 Qxg2 Rf1 Qxe4+ Be2"),
                                             "d4f3"),
    "englund (black, history)": (_board("d4 e5 dxe5 Nc6 Nf3 Qe7 Bf4 Qb4+ Bd2 Qxb2 Bc3 Bb4 Qd2 Bxc3 Qxc3"), "b2c1"),
    "back rank (bare FEN)": (_board(fen="6k1/5ppp/8/8/8/8/5PPP/R5K1 w - - 0 1"), "a1a8"),
    "smothered (bare FEN)": (_board(fen="6rk/6pp/8/6N1/8/8/8/6K1 w - - 0 1"), "g5f7"),
}
OPERA = ("e4 e5 Nf3 d6 d4 Bg4 dxe5 Bxf3 Qxf3 dxe5 Bc4 Nf6 Qb3 Qe7 Nc3 c6 Bg5 b5 Nxb5 cxb5 Bxb5+ Nbd7 O-O-O Rd8 "
         "Rxd7 Rxd7 Rd1 Qe6 Bxd7+ Nxd7")
MATE_IN_2 = {
    "legal 1750 (white, history)": (_board("e4 e5 Bc4 d6 Nf3 Bg4 Nc3 g6 Nxe5 Bxd1"), "c4f7"),
    "morphy opera 1858 (white, history)": (_board(OPERA), "b3b8"),
    "opera, colours mirrored (black, bare FEN)": (_board(OPERA).mirror().copy(stack=False), "b6b1"),
}


def test_handshake_and_options(engine):
    assert engine.id["name"].startswith("boardnet")
    for name in ("Threads", "MinibatchSize", "CPuct", "CPuctBase", "CPuctFactor", "FpuValue",
                 "PolicyTemperature", "Temperature"):
        assert name in engine.options
    assert float(engine.options["CPuct"].default) == pytest.approx(1.745)
    assert float(engine.options["PolicyTemperature"].default) == pytest.approx(1.359)
    engine.configure({"Threads": 1, "CPuct": "1.745", "Temperature": "0"})


def test_short_game_plays_legal_moves_and_reports_info(engine):
    board = chess.Board()
    for _ in range(12):
        result = engine.play(board, chess.engine.Limit(nodes=48), info=chess.engine.INFO_ALL)
        assert result.move in board.legal_moves
        info = result.info
        assert info["nodes"] >= 1 and "nps" in info and "wdl" in info and info["pv"][0] == result.move
        wdl = info["wdl"].relative
        assert wdl.wins + wdl.draws + wdl.losses == 1000
        board.push(result.move)


@pytest.mark.parametrize("name", list(MATE_IN_1))
def test_mate_in_one_at_800_nodes(engine, name):
    board, expected = MATE_IN_1[name]
    move = chess.Move.from_uci(expected)
    assert _forces_mate(board.copy(), move, 1)
    result = engine.play(board, chess.engine.Limit(nodes=800), info=chess.engine.INFO_SCORE)
    assert result.move == move
    assert result.info["score"].relative.mate() == 1


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if "bare FEN" in n else n for n in MATE_IN_2])
def test_mate_in_two_at_800_nodes(engine, name):
    board, expected = MATE_IN_2[name]
    move = chess.Move.from_uci(expected)
    assert _forces_mate(board.copy(), move, 2)
    assert not any(_forces_mate(board.copy(), m, 1) for m in board.legal_moves)
    result = engine.play(board, chess.engine.Limit(nodes=800), info=chess.engine.INFO_SCORE)
    assert result.move == move
    assert result.info["score"].relative.mate() == 2


def test_movetime_is_honoured(engine):
    board = _board("e4 c5 Nf3 d6")
    t0 = time.monotonic()
    result = engine.play(board, chess.engine.Limit(time=0.5), info=chess.engine.INFO_BASIC)
    elapsed = time.monotonic() - t0
    assert result.move in board.legal_moves
    assert 0.2 <= elapsed <= 0.5 + 0.25, elapsed  # MoveOverheadMs 200 (lc0's default): it aims at 0.3 s
    assert result.info["nodes"] > 1


def test_clock_budgets(engine):
    board = _board("d4 Nf6 c4 e6")
    # 20 s each, sudden death: about 20/30 s for this move
    t0 = time.monotonic()
    result = engine.play(board, chess.engine.Limit(white_clock=20, black_clock=20))
    elapsed = time.monotonic() - t0
    assert result.move in board.legal_moves
    assert 0.3 <= elapsed <= 1.2, elapsed
    # one move to the control with 1.5 s left: it may use it, but never more than the clock
    t0 = time.monotonic()
    result = engine.play(board, chess.engine.Limit(white_clock=1.5, black_clock=1.5, remaining_moves=1))
    elapsed = time.monotonic() - t0
    assert result.move in board.legal_moves
    assert elapsed < 1.5, elapsed
    # a forced move (the only legal reply to a check) under the clock: answered at once
    forced = _board(fen="k6r/8/8/8/8/4n3/8/7K w - - 0 1")
    assert forced.legal_moves.count() == 1
    t0 = time.monotonic()
    result = engine.play(forced, chess.engine.Limit(white_clock=60, black_clock=60), game=object())
    assert result.move == next(iter(forced.legal_moves)) and time.monotonic() - t0 < 0.3
    # almost no time left (0.2 s): an answer well inside it
    t0 = time.monotonic()
    result = engine.play(board, chess.engine.Limit(white_clock=0.2, black_clock=60))
    assert result.move in board.legal_moves
    assert time.monotonic() - t0 < 0.2


def test_tree_is_reused_after_the_expected_reply(engine):
    board = _board("e4 e5 Nf3")
    first = engine.play(board, chess.engine.Limit(nodes=400), info=chess.engine.INFO_ALL)
    board.push(first.move)
    board.push(first.info["pv"][1])
    second = engine.play(board, chess.engine.Limit(nodes=1), info=chess.engine.INFO_BASIC)
    assert second.move in board.legal_moves
    assert second.info["nodes"] > 1  # the subtree searched last move: lc0 counts it too
    # a new game (python-chess sends ucinewgame) starts from an empty tree
    fresh = engine.play(board, chess.engine.Limit(nodes=1), game=object(), info=chess.engine.INFO_BASIC)
    assert fresh.info["nodes"] == 1


def test_claimable_draws_at_the_root_still_get_a_move(engine):
    # Threefold repetition and the 50-move rule only let a player claim a draw: the game goes on (an arena
    # adjudicating by the rules asks for a move), so the engine answers one, as lc0 does.
    moves = ("e4 c5 Nf3 Nc6 d4 cxd4 Nxd4 Nf6 Nc3 e5 Nxc6 bxc6 Bc4 Bb4 Bd2 O-O O-O d5 exd5 cxd5 Bb3 Ba6 Re1 d4 Ne4 "
             "Bxd2 Qxd2 Nxe4 Rxe4 Bb7 Re5 Rc8 Rae1 Qd6 Rxe7 Bxg2 Kxg2 Qg6+ Kf1 Qa6+ Kg1 Qg6+ Kh1 Qc6+ Kg1 Qg6+ "
             "Kf1 Qa6+ Kg1 Qg6+")
    repeated, fifty = _board(moves), _board(fen="4k3/8/8/8/8/8/4P3/4K3 w - - 100 80")
    assert repeated.can_claim_threefold_repetition() and fifty.can_claim_fifty_moves()
    for board in (repeated, fifty):
        assert not board.is_game_over()
        result = engine.play(board, chess.engine.Limit(nodes=50), game=object())
        assert result.move in board.legal_moves


def test_game_over_positions_answer_no_move(engine):
    for board in (_board("f3 e5 g4 Qh4#"), _board(fen="7k/5Q2/6K1/8/8/8/8/8 b - - 0 1")):  # mated, stalemated
        assert board.is_game_over()
        result = engine.play(board, chess.engine.Limit(nodes=50), game=object())
        assert result.move is None


def test_go_depth_stops_at_mean_depth(engine):
    result = engine.play(chess.Board(), chess.engine.Limit(depth=3), info=chess.engine.INFO_BASIC)
    assert result.move in chess.Board().legal_moves
    assert result.info["depth"] == 3


def test_pondering_with_ponderhit(engine):
    board = _board("e4 e5 Nf3 Nc6")
    limit = chess.engine.Limit(white_clock=10, black_clock=10)
    first = engine.play(board, limit, ponder=True, game="ponder")  # then "go ponder" on the expected reply
    assert first.move in board.legal_moves and first.ponder is not None
    board.push(first.move)
    board.push(first.ponder)  # the expected reply: python-chess sends "ponderhit"
    t0 = time.monotonic()
    second = engine.play(board, limit, ponder=True, game="ponder", info=chess.engine.INFO_BASIC)
    assert second.move in board.legal_moves
    assert time.monotonic() - t0 < 10 / 30 + 0.5  # the clock budget, counted from ponderhit
    assert second.info.get("nodes", 0) > 1


def test_stop_during_go_infinite(engine):
    board = _board("e4 e5 Nf3 Nc6 Bb5")
    with engine.analysis(board) as analysis:  # go infinite
        time.sleep(1.5)  # info lines come every 0.5 s
        seen = dict(analysis.info)
        t0 = time.monotonic()
        analysis.stop()
        best = analysis.wait()
        latency = time.monotonic() - t0
    assert best.move in board.legal_moves
    assert latency < 0.5, latency
    assert seen.get("nodes", 0) > 1 and "score" in seen


@pytest.mark.slow  # a fresh interpreter importing every verb: ~3 s, more on a busy machine
def test_missing_net_is_one_error_line():
    proc = subprocess.run([sys.executable, "-m", "boardnet", "uci", "no-such-net.pb.gz"], cwd=ROOT,
                          input="uci\n", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: ") and "no-such-net.pb.gz" in proc.stderr


def _words(text: str) -> list[str]:
    return text.split()


def test_parse_position_and_go():
    board = parse_position(_words("startpos moves e2e4 e7e5 g1f3"))
    assert board.fen() == _board("e4 e5 Nf3").fen() and len(board.move_stack) == 3
    fen = "r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1"
    assert parse_position(["fen", *fen.split(), "moves", "e1h1"]).piece_at(chess.G1) == chess.Piece.from_symbol("K")
    with pytest.raises(ValueError, match="not legal"):
        parse_position(_words("startpos moves e2e5"))
    with pytest.raises(ValueError):
        parse_position(_words("fen not a fen"))
    fields, infinite, moves = parse_go(_words("wtime 1000 btime 2000 winc 10 binc 20 movestogo 5 searchmoves e2e4"))
    assert fields == {"wtime": 1000, "btime": 2000, "winc": 10, "binc": 20, "movestogo": 5}
    assert not infinite and moves == ["e2e4"]


def test_time_budget():
    white, black = chess.Board(), _board("e4")
    assert time_budget(white, {"movetime": 500}, 0.1) == pytest.approx(0.4)
    assert time_budget(white, {"movetime": 100}, 0.1) == pytest.approx(0.05)  # overhead at most half
    assert time_budget(white, {"nodes": 800}, 0.1) is None
    go = {"wtime": 30000, "btime": 6000, "winc": 1000, "binc": 0}
    assert time_budget(white, go, 0.1) == pytest.approx(1.0 + 0.75)
    assert time_budget(black, go, 0.1) == pytest.approx(0.2)
    assert time_budget(black, {"wtime": 1, "btime": 1000, "movestogo": 1}, 0.1) == pytest.approx(0.8 * 0.9)


def test_lc0_centipawns():
    assert q_to_cp(0.0) == 0
    assert q_to_cp(0.5) == -q_to_cp(-0.5) == round(90 * math.tan(1.5637541897 * 0.5))
    assert q_to_cp(1.0) == round(90 * math.tan(1.5637541897)) == q_to_cp(1.5)  # finite at Q = 1; Q clamped


def test_policy_indices_match_lc0(lc0_reference):
    """The search's table-driven move index equals lc0's own legal-move indices on all 48 fixture positions."""
    for fen, ucis, idx in zip(lc0_reference["final_fens"], lc0_reference["legal_uci"], lc0_reference["legal_idx"]):
        board = chess.Board(str(fen))
        moves = [chess.Move.from_uci(u) for u in str(ucis).split()]
        assert policy_indices(board, moves) == [int(i) for i in idx[: len(moves)]]


@pytest.mark.slow  # a second engine process (torch import, ONNX export of the transformer)
def test_attention_body_net_plays_as_a_uci_engine():
    """An lc0 transformer (the BT4-like fixture net: PE_DENSE, smolgen, relu² FFN) is a UCI engine too."""
    net = fixture_path("lc0_transformer", "bt-c-pedense-bt4like.pb.gz")
    eng = chess.engine.SimpleEngine.popen_uci([sys.executable, "-m", "boardnet", "uci", str(net)],
                                              timeout=START_TIMEOUT, cwd=ROOT)
    try:
        board = chess.Board()
        for _ in range(4):
            result = eng.play(board, chess.engine.Limit(nodes=24), info=chess.engine.INFO_ALL)
            assert result.move in board.legal_moves
            assert result.info["nodes"] >= 1 and result.info["pv"][0] == result.move
            board.push(result.move)
    finally:
        eng.quit()
