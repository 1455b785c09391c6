"""A boardnet-trained Stockfish 17.1 / 18 small net in the real engines (issue 14 part 4).

``fixtures/native/boardnet-sf17small.nnue.gz`` was trained with ``boardnet train nnue-sf17-small`` from
``fixtures/native/train.binpack`` and exported with ``boardnet convert``; native Stockfish 17.1 and 18 builds
loaded it as ``EvalFileSmall`` next to their real big nets and printed ``eval`` for the 60 FENs of
``eval60.fens`` (48 where the engines pick the small net). How: ``fixtures/native/README.md``. boardnet's exact
evaluator must print the same numbers for all 60.

``fixtures/native/boardnet-sf18.nnue.gz`` was trained with ``boardnet train nnue-sf18`` (Full_Threats +
HalfKAv2_hm^, L1 1024) on the same data and exported the same way; native Stockfish 18 loaded it as its big net
(``EvalFile``) next to its real small net and printed ``eval`` for the same 60 FENs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import chess
import pytest

from boardnet.nnue.eval import FINAL_RULES, evaluate_many, uses_small_net
from boardnet.nnue.file import read_quantized
from boardnet.nnue.units import tdiv

NATIVE = Path(__file__).parent / "fixtures" / "native"
SMALL = NATIVE / "boardnet-sf17small.nnue.gz"
SF18_BIG = NATIVE / "boardnet-sf18.nnue.gz"
SF18_BIG_SHA256 = "afa59abe00ff820872aac50d6dd1885a20dcc2d528edb90226d489da586e3a21"  # gunzipped


def assert_printed_fields(rows: list[dict], evs: list) -> None:
    """boardnet's NNUE line, used bucket's table row and Final evaluation equal the engine's, for every row."""
    got = [(e.printed, e.final, e.table) for e in evs]
    expected = [(r["nnue_evaluation_printed"], r["final_evaluation_printed"],
                 (r["psqt_printed"], r["positional_printed"], r["total_printed"])) for r in rows]
    assert sum(g == x for g, x in zip(got, expected, strict=True)) == len(rows), [
        (r["fen"], g, x) for r, g, x in zip(rows, got, expected, strict=True) if g != x]


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
    assert_printed_fields(rows, evs)
    # the small net's own value decides the Final evaluation of most positions (not re-done with the big net)
    own = evaluate_many(small_net, boards, engine=engine)
    decided = sum(uses_small_net(b) and abs(tdiv(125 * tdiv(e.psqt, 16) + 131 * tdiv(e.positional, 16),
                                                       128)) >= FINAL_RULES[engine][0]
                  for b, e in zip(boards, own, strict=True))
    assert decided >= 40


def test_export_is_the_engine_layout_byte_for_byte(small_net, tmp_path) -> None:
    """The fixture net reads as the SF17.1/18 small layout and writes back to the same bytes."""
    from boardnet.nnue.file import write_net

    assert small_net.spec.config["arch"] == "halfkav2_hm_128x2-16-32x8"
    out = tmp_path / "again.nnue"
    write_net(small_net, out)
    assert out.read_bytes() == gzip.decompress(SMALL.read_bytes())


@pytest.mark.slow
def test_engine_output_on_the_boardnet_sf18_big_net(modern_nets) -> None:
    """Stockfish 18 with boardnet's threat net as EvalFile (and its own small net): every printed field of the
    60 FENs (the NNUE line and bucket table from this net, the Final evaluation from either net) is what
    boardnet's integer evaluator gives, and the net's int8 threat weights decide most of the lines."""
    data = json.loads((NATIVE / "sf18.big.evals.json").read_text())
    rows = data["positions"]
    assert len(rows) == 60 and data["net_sha256"] == SF18_BIG_SHA256
    assert data["small_net_sha256"].startswith("37f18f62d772")  # Stockfish's own small net, as modern_nets["small"]
    assert "(102384, 1024, 15, 32, 1)" in data["engine_messages"]  # loaded as the threat big net
    assert hashlib.sha256(gzip.decompress(SF18_BIG.read_bytes())).hexdigest() == SF18_BIG_SHA256
    big = read_quantized(SF18_BIG, engine="sf18")
    assert big.spec.config["arch"] == "full_threats+halfkav2_hm_1024x2-16-32x8"
    boards = [chess.Board(r["fen"]) for r in rows]
    evs = evaluate_many(big, boards, engine="sf18", small=read_quantized(modern_nets["small"]))
    assert_printed_fields(rows, evs)
    assert len({e.printed for e in evs}) > 40
    big.state_dict["ft.threat_weight"].zero_()
    without = evaluate_many(big, boards, engine="sf18")
    assert sum(a.printed != b.printed for a, b in zip(evs, without, strict=True)) >= 40
