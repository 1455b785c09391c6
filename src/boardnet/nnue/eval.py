"""Exact integer NNUE inference in numpy, reproducing the engines' arithmetic (spec ``nnue.md`` §9, §10).

Works on the quantized tensors of :func:`boardnet.nnue.file.read_net`.
"""

from __future__ import annotations

from dataclasses import dataclass

import chess
import numpy as np

from boardnet.core.spec import NetFile
from boardnet.nnue.features import get_feature_set, layer_stack_bucket
from boardnet.nnue.file import ARCHS
from boardnet.nnue.quantize import BIAS_SCALE, OUT_B_SCALE
from boardnet.nnue.units import PAWN_UNITS
from boardnet.nnue.units import trunc_div as _tdiv

PAWN_SF12 = PAWN_UNITS["12"]  # §10: SF12-SF15.0 PawnValueEg
PAWN_SF15_1 = PAWN_UNITS["15.1"]  # §10: SF15.1 NormalizeToPawnValue


@dataclass
class NnueEval:
    """One evaluation, side to move. ``raw`` = NNUE::evaluate(adjusted=false); ``printed`` as ``eval`` prints it."""

    raw: int
    output: int | None = None
    bucket: int | None = None
    psqt: int | None = None
    positional: int | None = None
    printed: str = ""


def _layer(x: np.ndarray, sd: dict, name: str) -> np.ndarray:
    w = sd[f"{name}.weight"].numpy().astype(np.int64)
    return sd[f"{name}.bias"].numpy().astype(np.int64) + w[:, : x.shape[0]] @ x


def _white_printed(raw: int, board: chess.Board, pawn: int, sign: bool) -> str:
    w = raw if board.turn == chess.WHITE else -raw
    return ("%+.2f" if sign else "%.2f") % (w / pawn)


def evaluate(net: NetFile, board: chess.Board) -> NnueEval:
    """Evaluate ``board`` (not in check) with a quantized ``.nnue`` NetFile exactly as the engine does."""
    sd = net.state_dict
    arch = ARCHS[net.spec.config["arch"]]
    fs = get_feature_set(net.spec.config["features"])
    persp = (board.turn, not board.turn)
    ftb = sd["ft.bias"].numpy().astype(np.int64)
    ftw = sd["ft.weight"].numpy()
    if not arch.psqt_buckets:  # SF12 form (§9.2)
        accs = []
        for p in persp:
            acc = ftb + ftw[fs.active_features(board, p)].astype(np.int64).sum(0)
            accs.append(((acc + 32768) % 65536) - 32768)  # §9.2: int16 wrap-around adds
        x = np.clip(np.concatenate(accs), 0, 127)
        x = np.clip(_layer(x, sd, "stacks.0.l1") >> 6, 0, 127)
        x = np.clip(_layer(x, sd, "stacks.0.l2") >> 6, 0, 127)
        out = int(_layer(x, sd, "stacks.0.out")[0])
        raw = _tdiv(out, 16)
        return NnueEval(raw, output=out, printed=_white_printed(raw, board, PAWN_SF12, sign=False))
    psqt_w = sd["ft.psqt"].numpy()
    bucket = layer_stack_bucket(len(board.piece_map()))
    us, psq = [], []
    half = ftb.shape[0] // 2
    for p in persp:
        idx = fs.active_features(board, p)
        acc = ftb + ftw[idx].astype(np.int64).sum(0)
        psq.append(int(psqt_w[idx, bucket].astype(np.int64).sum()))
        a = np.clip(acc, 0, 127)
        us.append((a[:half] * a[half:]) >> 7)
    u = np.concatenate(us)
    psqt = _tdiv(psq[0] - psq[1], 2)
    k = f"stacks.{bucket}"
    y0 = _layer(u, sd, f"{k}.l1")
    sq = np.minimum(127, (y0[:15] * y0[:15]) >> 19)
    cr = np.clip(y0[:15] >> 6, 0, 127)
    x1 = np.concatenate([sq, cr, np.zeros(2, np.int64)])
    x2 = np.clip(_layer(x1, sd, f"{k}.l2") >> 6, 0, 127)
    y2 = int(_layer(x2, sd, f"{k}.out")[0])
    positional = y2 + _tdiv(int(y0[15]) * OUT_B_SCALE, BIAS_SCALE)
    raw = _tdiv(psqt + positional, 16)
    return NnueEval(raw, bucket=bucket, psqt=psqt, positional=positional,
                    printed=_white_printed(raw, board, PAWN_SF15_1, sign=True))
