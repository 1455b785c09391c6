"""A boardnet-trained Stockfish 17.1 / 18 small net in the real engines (issue 14 part 4).

``fixtures/native/boardnet-sf17small.nnue.gz`` was trained with ``boardnet train nnue-sf17-small`` from
``fixtures/native/train.binpack`` and exported with ``boardnet convert``; native Stockfish 17.1 and 18 builds
loaded it as ``EvalFileSmall`` next to their real big nets and printed ``eval`` for the 60 FENs of
``eval60.fens`` (48 where the engines pick the small net). How: ``fixtures/native/README.md``. boardnet's exact
evaluator must print the same numbers for all 60.
"""

from __future__ import annotations

import json
from pathlib import Path

import chess
import pytest

from boardnet.nnue.eval import FINAL_RULES, evaluate_many, uses_small_net
from boardnet.nnue.file import read_quantized
from boardnet.nnue.units import tdiv

NATIVE = Path(__file__).parent / "fixtures" / "native"
SMALL = NATIVE / "boardnet-sf17small.nnue.gz"


@pytest.fixture(scope="module")
def small_net():
    return read_quantized(SMALL)


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "big_key", "record"), [("sf17.1", "sf17.1-big", "sf17_1.small.evals.json"),
                                                           ("sf18", "sf18-big", "sf18.small.evals.json")])
def test_engine_output_on_the_boardnet_small_net(modern_nets, small_net, engine, big_key, record) -> None:
    data = json.loads((NATIVE / record).read_text())
    rows = data["positions"]
    assert len(rows) == 60
    assert data["small_net_sha256"] == "35a23981993cc79a29153894103f6362fac8a4f4c27a5e8b7ef737c8faba5b04"
    assert "(22528, 128, 15, 32, 1)" in data["engine_messages"]  # the engine loaded it as its small net
    boards = [chess.Board(r["fen"]) for r in rows]
    big = read_quantized(modern_nets[big_key], engine=engine)
    evs = evaluate_many(big, boards, engine=engine, small=small_net)
    got = [(e.printed, e.final, e.table) for e in evs]
    expected = [(r["nnue_evaluation_printed"], r["final_evaluation_printed"],
                 (r["psqt_printed"], r["positional_printed"], r["total_printed"])) for r in rows]
    assert sum(g == x for g, x in zip(got, expected, strict=True)) == 60, [
        (r["fen"], g, x) for r, g, x in zip(rows, got, expected, strict=True) if g != x]
    # the small net's own value decides the Final evaluation of most positions (not re-done with the big net)
    own = evaluate_many(small_net, boards, engine=engine)
    decided = sum(uses_small_net(b) and abs(tdiv(125 * tdiv(e.psqt, 16) + 131 * tdiv(e.positional, 16),
                                                       128)) >= FINAL_RULES[engine][0]
                  for b, e in zip(boards, own, strict=True))
    assert decided >= 40


def test_export_is_the_engine_layout_byte_for_byte(small_net, tmp_path) -> None:
    """The fixture net reads as the SF17.1/18 small layout and writes back to the same bytes."""
    import gzip

    from boardnet.nnue.file import write_net

    assert small_net.spec.config["arch"] == "halfkav2_hm_128x2-16-32x8"
    out = tmp_path / "again.nnue"
    write_net(small_net, out)
    assert out.read_bytes() == gzip.decompress(SMALL.read_bytes())
