"""Exact evaluation of SF16 / SF17.1 / SF18 nets against what the real engines print (72 positions each)."""

from __future__ import annotations

from pathlib import Path

import chess
import pytest

from boardnet.core.errors import FormatError
from boardnet.nnue import file as nnue
from boardnet.nnue.eval import evaluate, evaluate_many, uses_small_net
from tests.nnue.conftest import engine_rows, sf16_net


def _check(rows: list[dict], evals: list, final: bool) -> None:
    for row, ev in zip(rows, evals, strict=True):
        got = (ev.printed, ev.bucket, *ev.table)
        want = (row["nnue_evaluation_printed"], row["bucket"], row["psqt_printed"], row["positional_printed"],
                row["total_printed"])
        assert got == want, row["fen"]
        if final:
            assert ev.final == row["final_evaluation_printed"], row["fen"]


@pytest.mark.slow
def test_sf16_matches_engine(modern_nets: dict[str, Path]) -> None:
    rows = engine_rows("sf16")
    evals = evaluate_many(nnue.read_net(sf16_net(modern_nets)), [chess.Board(r["fen"]) for r in rows])
    assert {ev.engine for ev in evals} == {"sf16"} and all(ev.final is None for ev in evals)
    _check(rows, evals, final=False)


@pytest.mark.slow
def test_sf17_1_matches_engine(modern_nets: dict[str, Path]) -> None:
    rows = engine_rows("sf17_1")
    boards = [chess.Board(r["fen"]) for r in rows]
    assert 0 < sum(map(uses_small_net, boards)) < 72  # both nets are exercised by the Final evaluation
    evals = evaluate_many(nnue.read_net(modern_nets["sf17.1-big"]), boards, "sf17.1",
                          small=nnue.read_net(modern_nets["small"]))
    _check(rows, evals, final=True)


@pytest.mark.slow
def test_sf18_matches_engine(modern_nets: dict[str, Path]) -> None:
    rows = engine_rows("sf18")
    boards = [chess.Board(r["fen"]) for r in rows]
    evals = evaluate_many(nnue.read_net(modern_nets["sf18-big"]), boards,
                          small=nnue.read_net(modern_nets["small"]))
    assert {ev.engine for ev in evals} == {"sf18"}
    _check(rows, evals, final=True)


def test_engine_must_load_the_net(modern_nets: dict[str, Path]) -> None:
    small = nnue.read_net(modern_nets["small"])
    with pytest.raises(FormatError, match="Stockfish 17.1 / 18 small net.*sf16 loads a Stockfish 16 net"):
        evaluate(small, chess.Board(), "sf16")
    # the same small net prints by SF17.1's or SF18's WDL model
    assert evaluate(small, chess.Board(), "sf17.1").raw == evaluate(small, chess.Board(), "sf18").raw
