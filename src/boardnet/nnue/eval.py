"""Exact integer NNUE inference in numpy, reproducing Stockfish 12 / 15.1 / 16 / 17.1 / 18 (spec ``nnue.md`` §9,
§10; ``/work/notes/nnue-modern.md`` for SF16+).

Works on the quantized tensors of :func:`boardnet.nnue.file.read_net`. HalfKAv2_hm nets are evaluated in one batch
over positions and all 8 layer stacks, which also gives ``eval``'s bucket table.

Feature transformer per perspective: ``acc = wrap16(s * (bias + sum W[active]))`` (s = 2 where the engine doubles
the FT on load: SF17.1 nets and SF18's small net), plus for SF18's big net the threat accumulator
``wrap16(sum T[active threats])`` (int8 rows, no bias). Then ``y = clamp(a) * clamp(b) >> k`` for the two halves:
clamp 127, k 7 (SF15.1, SF16); clamp 254, k 9 (s = 2); clamp 255, k 9 (SF18 big).
"""

from __future__ import annotations

from dataclasses import dataclass

import chess
import numpy as np

from boardnet.core.errors import ConversionError
from boardnet.core.spec import NetFile
from boardnet.nnue.features import get_block, layer_stack_bucket
from boardnet.nnue.file import ARCHS, Arch, check_engine
from boardnet.nnue.quantize import BIAS_SCALE, OUT_B_SCALE
from boardnet.nnue.units import PAWN_UNITS, tdiv, units_for_version

OUTPUT_SCALE = 16
PIECE_VALUES = {chess.PAWN: 208, chess.KNIGHT: 781, chess.BISHOP: 825, chess.ROOK: 1276, chess.QUEEN: 2538}
VALUE_TB_WIN_IN_MAX_PLY = 32000 - 246 - 1 - 246  # types.h: VALUE_MATE - MAX_PLY - 1 - MAX_PLY
# evaluate.cpp Eval::evaluate: small-net re-evaluation threshold, complexity divisor, pawn weight, material base,
# rule-50 divisor
FINAL_RULES = {"sf17.1": (236, 18000, 535, 77777, 212), "sf18": (277, 18236, 534, 77871, 199)}
# (big, small) net archs of the engines with two nets
NET_PAIRS = {"sf17.1": ("halfkav2_hm_3072x2-16-32x8", "halfkav2_hm_128x2-16-32x8"),
             "sf18": ("full_threats+halfkav2_hm_1024x2-16-32x8", "halfkav2_hm_128x2-16-32x8")}


@dataclass
class NnueEval:
    """One evaluation, side to move unless noted.

    ``raw``: the value behind the ``NNUE evaluation`` line (SF12-SF16 ``NNUE::evaluate(adjusted=false)``;
    SF17.1+ ``psqt / 16 + positional / 16``). ``output``: SF12's last layer. ``psqt``, ``positional``: the used
    bucket's integers before the division by 16. ``printed``: the ``NNUE evaluation`` line's number (white side).
    ``table``: the used bucket's (psqt, positional, total) cells as ``eval`` prints them (side to move).
    ``final``: the ``Final evaluation`` line's number (white side), where implemented.
    """

    raw: int
    output: int | None = None
    bucket: int | None = None
    psqt: int | None = None
    positional: int | None = None
    printed: str = ""
    engine: str = ""
    table: tuple[str, str, str] | None = None
    final: str | None = None


def wrap16(x: np.ndarray) -> np.ndarray:
    """Two's-complement int16 wrap-around of int64 values (the engines' int16 accumulator adds)."""
    return ((x + 32768) & 0xFFFF) - 32768


def arch_of(net: NetFile) -> Arch:
    return ARCHS[net.spec.config["arch"]]


# ----------------------------------------------------------------------------------------------- forward pass


def ft_rules(engine: str, arch: Arch) -> tuple[int, int, int]:
    """(FT scale on load, clamp, right shift) of ``engine`` for ``arch`` (each tag's nnue_feature_transformer.h)."""
    if engine in ("sf15.1", "sf16"):
        return 1, 127, 7
    if arch.threat_features:
        return 1, 255, 9
    return 2, 254, 9


def _padded(lists: list[list[int]], width: int = 1) -> np.ndarray:
    """Ragged index lists -> int64 ``[n, width']`` padded with -1."""
    width = max(width, max((len(v) for v in lists), default=1))
    out = np.full((len(lists), width), -1, np.int64)
    for i, v in enumerate(lists):
        out[i, :len(v)] = v
    return out


def _gather_sum(table: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``sum_j table[idx[..., j]]`` skipping -1 entries: int64 ``[..., table.shape[1]]``."""
    rows = table[np.maximum(idx, 0)].astype(np.int64)
    return (rows * (idx >= 0)[..., None]).sum(-2)


def _stack(sd: dict[str, np.ndarray], k: int, x: np.ndarray) -> np.ndarray:
    """Layer stack ``k`` on transformed features ``x`` ``[n, 2*L1/2]`` -> positional ``[n]`` (int64):
    fc_0, SqrClippedReLU and ClippedReLU of its first 15 outputs, fc_1, ClippedReLU, fc_2, plus the skip
    neuron fc_0[15] * 9600 / 8128."""

    def affine(name: str, v: np.ndarray) -> np.ndarray:
        w = sd[f"stacks.{k}.{name}.weight"].astype(np.int64)
        return sd[f"stacks.{k}.{name}.bias"].astype(np.int64) + v @ w[:, :v.shape[1]].T

    y0 = affine("l1", x)
    sq = np.minimum(127, (y0[:, :15] * y0[:, :15]) >> 19)
    cr = np.clip(y0[:, :15] >> 6, 0, 127)
    y1 = np.clip(affine("l2", np.concatenate([sq, cr], 1)) >> 6, 0, 127)
    return affine("out", y1)[:, 0] + tdiv(y0[:, 15] * OUT_B_SCALE, BIAS_SCALE)


def forward_sfnn(net: NetFile, boards: list[chess.Board], engine: str) -> tuple[np.ndarray, np.ndarray]:
    """HalfKAv2_hm (+ Full_Threats) net on ``boards`` with ``engine``'s integer arithmetic, all stacks.

    Returns (psqt, positional), int64 ``[n, stacks]``, side to move, before the division by 16.
    """
    arch = arch_of(net)
    scale, top, shift = ft_rules(engine, arch)
    sd = {k: v.numpy() for k, v in net.state_dict.items()}
    persp = [(b, p) for b in boards for p in (b.turn, not b.turn)]
    piece_block, *threat_block = reversed([get_block(n) for n in arch.features.split("+")])  # registry lookup
    idx = _padded([piece_block.active(b, p) for b, p in persp], piece_block.max_active)
    acc = wrap16(scale * (sd["ft.bias"].astype(np.int64) + _gather_sum(sd["ft.weight"], idx)))  # [2n, L1]
    psq = _gather_sum(sd["ft.psqt"], idx)  # [2n, 8]
    if arch.threat_features:
        tidx = _padded([threat_block[0].active(b, p) for b, p in persp])
        acc = wrap16(acc + wrap16(_gather_sum(sd["ft.threat_weight"], tidx)))
        psq = psq + _gather_sum(sd["ft.threat_psqt"], tidx)
    n = len(boards)
    acc, psq = acc.reshape(n, 2, -1), psq.reshape(n, 2, -1)
    half = acc.shape[-1] // 2
    c = np.clip(acc, 0, top)
    x = ((c[..., :half] * c[..., half:]) >> shift).reshape(n, -1)
    positional = np.stack([_stack(sd, k, x) for k in range(arch.stacks)], 1)
    return tdiv(psq[:, 0] - psq[:, 1], 2), positional


def _halfkp(net: NetFile, board: chess.Board) -> NnueEval:
    """SF12 HalfKP 256x2-32-32 (§9)."""
    sd = net.state_dict
    ftb = sd["ft.bias"].numpy().astype(np.int64)
    ftw = sd["ft.weight"].numpy()
    active = get_block(arch_of(net).features).active
    accs = [wrap16(ftb + ftw[active(board, p)].astype(np.int64).sum(0))
            for p in (board.turn, not board.turn)]
    x = np.clip(np.concatenate(accs), 0, 127)[None]
    sdn = {k: v.numpy() for k, v in sd.items()}

    def affine(name: str, v: np.ndarray) -> np.ndarray:
        return sdn[f"stacks.0.{name}.bias"].astype(np.int64) + v @ sdn[f"stacks.0.{name}.weight"].astype(np.int64).T

    x = np.clip(affine("l1", x) >> 6, 0, 127)
    x = np.clip(affine("l2", x) >> 6, 0, 127)
    out = int(affine("out", x)[0, 0])
    raw = int(tdiv(out, OUTPUT_SCALE))
    w = raw if board.turn == chess.WHITE else -raw
    return NnueEval(raw, output=out, printed=f"{w / PAWN_UNITS['12']:.2f}", engine="sf12")


# ------------------------------------------------------------------------------------------------- printing


def _version(engine: str) -> str:
    return engine.removeprefix("sf")


def pawns_line(engine: str, v: int, board: chess.Board) -> str:
    """An internal value as the ``NNUE evaluation`` / ``Final evaluation`` lines print it (showpos, 2 decimals):
    ``v / NormalizeToPawnValue`` up to SF16, ``0.01 * to_cp(v)`` (WDL model, :mod:`boardnet.nnue.units`) after."""
    version = _version(engine)
    if version in PAWN_UNITS:
        return f"{int(v) / PAWN_UNITS[version]:+.2f}"
    return f"{0.01 * units_for_version(version).to_cp(v, board):+.2f}"


def table_cell(engine: str, v: int, board: chess.Board) -> str:
    """A cell of ``eval``'s bucket table (``format_cp_aligned_dot``): sign of v ('' for 0), |pawns|, 2 decimals."""
    sign = "-" if v < 0 else "+" if v > 0 else ""
    version = _version(engine)
    if version in PAWN_UNITS:
        return sign + f"{abs(int(v)) / PAWN_UNITS[version]:.2f}"
    return sign + f"{abs(0.01 * units_for_version(version).to_cp(v, board)):.2f}"


def non_pawn_material(board: chess.Board, color: chess.Color) -> int:
    return sum(len(board.pieces(pt, color)) * PIECE_VALUES[pt]
               for pt in (chess.KNIGHT, chess.BISHOP, chess.ROOK, chess.QUEEN))


def uses_small_net(board: chess.Board) -> bool:
    """``Eval::use_smallnet``: |208 * pawn difference + non-pawn material difference| > 962 (side to move)."""
    us, them = board.turn, not board.turn
    pawns = len(board.pieces(chess.PAWN, us)) - len(board.pieces(chess.PAWN, them))
    return abs(208 * pawns + non_pawn_material(board, us) - non_pawn_material(board, them)) > 962


def final_value(engine: str, board: chess.Board, big: tuple[int, int], small: tuple[int, int] | None) -> int:
    """``Eval::evaluate`` with optimism 0 (as ``eval`` calls it), side to move. ``big`` / ``small``: each net's
    (psqt / 16, positional / 16); ``small`` is only needed when :func:`uses_small_net`."""
    if engine not in FINAL_RULES:
        raise NotImplementedError(f"the Final evaluation of {engine} (hybrid with the classical eval) is not "
                                  "implemented")
    thresh, cdiv, pawn_w, base, r50 = FINAL_RULES[engine]
    use_small = uses_small_net(board)
    if use_small and small is None:
        raise ValueError("this position needs the small net")
    psqt, positional = small if use_small and small is not None else big
    nnue = int(tdiv(125 * psqt + 131 * positional, 128))
    if use_small and abs(nnue) < thresh:
        psqt, positional = big
        nnue = int(tdiv(125 * psqt + 131 * positional, 128))
    nnue -= int(tdiv(nnue * abs(psqt - positional), cdiv))
    pawns = len(board.pieces(chess.PAWN, chess.WHITE)) + len(board.pieces(chess.PAWN, chess.BLACK))
    material = pawn_w * pawns + non_pawn_material(board, chess.WHITE) + non_pawn_material(board, chess.BLACK)
    v = int(tdiv(nnue * (base + material), base))
    v -= int(tdiv(v * board.halfmove_clock, r50))
    return max(-(VALUE_TB_WIN_IN_MAX_PLY - 1), min(VALUE_TB_WIN_IN_MAX_PLY - 1, v))


# ------------------------------------------------------------------------------------------------ public API


def evaluate_many(net: NetFile, boards: list[chess.Board], engine: str | None = None,
                  small: NetFile | None = None) -> list[NnueEval]:
    """Evaluate ``boards`` (none in check) with a quantized NetFile exactly as ``engine``'s ``eval`` prints.

    ``engine`` (``sf12`` ... ``sf18``) defaults to the newest Stockfish that loads the net; one that does not load
    it is refused naming both. ``small``: SF17.1/SF18's small net, for the ``Final evaluation`` of positions
    where the engine picks it (others need only the big net); the Final evaluation is given only when ``net``
    is the engine's big net.
    """
    arch = arch_of(net)
    engine = check_engine(arch, engine)
    if not arch.psqt_buckets:  # SF12 HalfKP form (§9.2)
        return [_halfkp(net, b) for b in boards]
    big_net = engine in NET_PAIRS and arch.name == NET_PAIRS[engine][0]
    if small is not None and (not big_net or arch_of(small).name != NET_PAIRS[engine][1]):
        raise ConversionError(f"--small: {engine}'s Final evaluation takes its big net and then its small net "
                              f"({' and '.join(NET_PAIRS.get(engine, ('none',)))})")
    psqt, positional = forward_sfnn(net, boards, engine)
    spsqt, spos = forward_sfnn(small, boards, engine) if small is not None else (None, None)
    out = []
    for i, board in enumerate(boards):
        k = int(layer_stack_bucket(len(board.piece_map())))
        p, q = int(psqt[i, k]), int(positional[i, k])
        tp, tq = int(tdiv(p, OUTPUT_SCALE)), int(tdiv(q, OUTPUT_SCALE))
        raw = int(tdiv(p + q, OUTPUT_SCALE)) if _version(engine) in PAWN_UNITS else tp + tq
        white = 1 if board.turn == chess.WHITE else -1
        ev = NnueEval(raw, bucket=k, psqt=p, positional=q, printed=pawns_line(engine, white * raw, board),
                      engine=engine, table=tuple(table_cell(engine, v, board) for v in (tp, tq, tp + tq)))
        if big_net and (spsqt is not None or not uses_small_net(board)):
            sm = None if spsqt is None else (int(tdiv(spsqt[i, k], OUTPUT_SCALE)), int(tdiv(spos[i, k], OUTPUT_SCALE)))
            ev.final = pawns_line(engine, white * final_value(engine, board, (tp, tq), sm), board)
        out.append(ev)
    return out


def evaluate(net: NetFile, board: chess.Board, engine: str | None = None, small: NetFile | None = None) -> NnueEval:
    """Evaluate one ``board`` (not in check); see :func:`evaluate_many`."""
    return evaluate_many(net, [board], engine, small)[0]
