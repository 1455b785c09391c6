"""One-off evaluation (``lc0 eval``): an lc0 net exported to ONNX by boardnet gives the .pb.gz's numbers."""

from __future__ import annotations

import chess
import numpy as np
import pytest

from boardnet.cli import main
from boardnet.lc0.evaluator import evaluate_once
from boardnet.lc0.planes import encode, legal_policy
from tests.conftest import fixture_path

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def maia_onnx(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("onnx") / "maia.onnx"
    assert main(["convert", str(fixture_path("lc0", "maia-1300.pb.gz")), str(out)]) == 0
    return str(out)


def test_onnx_export_evaluates_as_the_pb_gz(maia_onnx: str, lc0_reference: dict[str, np.ndarray]) -> None:
    planes = lc0_reference["planes"][:8].astype(np.float32)
    ref_logits, ref_q, ref_d = evaluate_once(fixture_path("lc0", "maia-1300.pb.gz"), planes)
    logits, q, d = evaluate_once(maia_onnx, planes)
    assert logits.shape == ref_logits.shape == (8, 1858)
    np.testing.assert_allclose(q, ref_q, atol=1e-5)
    np.testing.assert_allclose(d, ref_d, atol=1e-5)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    ref_probs = np.exp(ref_logits - ref_logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs / probs.sum(1, keepdims=True), ref_probs / ref_probs.sum(1, keepdims=True),
                               atol=1e-5)


def test_lc0_eval_prints_the_same_report_for_onnx(maia_onnx: str, capsys: pytest.CaptureFixture[str]) -> None:
    reports = []
    for net in (str(fixture_path("lc0", "maia-1300.pb.gz")), maia_onnx):
        assert main(["lc0", "eval", net, "--moves", "e2e4", "e7e5", "--top", "8"]) == 0
        reports.append(capsys.readouterr().out)
    assert reports[0] == reports[1] and reports[0].count("%") == 8 + 3
    board = chess.Board()
    for uci in ("e2e4", "e7e5"):
        board.push_uci(uci)
    # the printed percentages are those of the legal-move softmax, on both
    logits, _, _ = evaluate_once(maia_onnx, encode(board)[None])
    best, p = legal_policy(board, logits[0])[0]
    assert f"{best.uci():6s} {100 * p:6.2f}%" in reports[1]


def test_onnx_that_is_not_an_lc0_net_is_one_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "junk.onnx"
    bad.write_bytes(b"not a model")
    assert main(["lc0", "eval", str(bad)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "junk.onnx" in err[0] and "ONNX" in err[0]


def test_onnx_that_fails_to_run_is_one_error_line(tmp_path, capfd: pytest.CaptureFixture[str]) -> None:
    """Found by the long fuzz run (2 of 1,005 `lc0 eval` inputs): a flipped bit in leela2onnx's policy mapping
    table makes onnxruntime's Gather fail at run time; that was an InvalidArgument traceback after ORT's own
    coloured log line on fd 2."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(fixture_path("lc0", "maia-1300.leela2onnx.onnx")))
    table = next(i for i in model.graph.initializer if i.name == "/const/mapping_table")
    values = numpy_helper.to_array(table).copy()
    values.flat[7] = 1 << 27
    table.CopyFrom(numpy_helper.from_array(values, table.name))
    bad = tmp_path / "gather.onnx"
    onnx.save(model, str(bad))
    assert main(["lc0", "eval", str(bad)]) == 2
    err = capfd.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: the ONNX model fails to run:") and "Gather" in err[0]


def test_negative_top_is_one_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lc0", "eval", str(fixture_path("lc0", "maia-1300.pb.gz")), "--top", "-3"]) == 2
    assert capsys.readouterr().err == "error: config key '--top': must be 0 or more (got -3)\n"
