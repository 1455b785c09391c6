"""Stockfish's internal evaluation units <-> UCI centipawns, per Stockfish version (spec ``nnue.md`` §10).

Each engine prints ``score cp`` with its own rule (official-stockfish/Stockfish ``src/uci.cpp``):

| version        | ``cp`` from an internal value ``v``                                 |
|----------------|---------------------------------------------------------------------|
| SF12 - SF15.0  | ``100 * v / 208`` (C++ int division, truncates toward zero)         |
| SF15.1         | ``100 * v / 361`` (``NormalizeToPawnValue``)                        |
| SF16           | ``100 * v / 328``                                                   |
| SF16.1         | ``100 * v / 356``                                                   |
| SF17, 17.1, 18 | ``round(100 * v / a(material))``; ``a`` is the WDL model's cubic in |
|                | ``m = clamp(P + 3N + 3B + 5R + 9Q, 17, 78) / 58`` (``win_rate_params``) |

Training data stores internal units, so a label taken from ``score cp`` has to be converted back with the rule
of the engine that printed it: :func:`units_for_engine` picks it from the engine's ``id name``.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

import chess
import numpy as np

from boardnet.core.errors import BoardnetError

# uci.cpp ``win_rate_params``: a(m) = ((as0 * m + as1) * m + as2) * m + as3 (material-dependent pawn value)
WDL_A_COEFFS: dict[str, tuple[float, float, float, float]] = {
    "17": (-37.45051876, 121.19101539, -132.78783573, 420.70576692),
    "17.1": (-13.50030198, 40.92780883, -36.82753545, 386.83004070),
    "18": (-72.32565836, 185.93832038, -144.58862193, 416.44950446),
}
# uci.h ``NormalizeToPawnValue`` (SF15.1+) / types.h ``PawnValueEg`` (SF12-15.0): internal units per pawn
PAWN_UNITS: dict[str, int] = {"12": 208, "13": 208, "14": 208, "14.1": 208, "15": 208, "15.1": 361, "16": 328,
                              "16.1": 356}


def material(board: chess.Board) -> int:
    """``P + 3N + 3B + 5R + 9Q`` over both sides (the WDL model's material count)."""
    count = {pt: len(board.pieces(pt, chess.WHITE)) + len(board.pieces(pt, chess.BLACK))
             for pt in (chess.PAWN, chess.KNIGHT, chess.BISHOP, chess.ROOK, chess.QUEEN)}
    return (count[chess.PAWN] + 3 * count[chess.KNIGHT] + 3 * count[chess.BISHOP] + 5 * count[chess.ROOK]
            + 9 * count[chess.QUEEN])


def wdl_a(coeffs: tuple[float, float, float, float], board: chess.Board) -> float:
    """The WDL model's ``a`` (internal units per pawn) for ``board``'s material, in float64 as the engine."""
    m = min(max(material(board), 17), 78) / 58.0
    return ((coeffs[0] * m + coeffs[1]) * m + coeffs[2]) * m + coeffs[3]


def tdiv(a: np.ndarray | int, b: int) -> np.ndarray:
    """C++ integer division (truncation toward zero), elementwise, int64."""
    a = np.asarray(a, np.int64)
    q = np.abs(a) // abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


@dataclass(frozen=True)
class EngineUnits:
    """One engine's rule between internal units and ``score cp``: a fixed pawn value or the WDL model's ``a``."""

    name: str
    pawn: float | None = None  # fixed internal units per pawn (truncating C++ division)
    wdl_coeffs: tuple[float, float, float, float] | None = None  # material-dependent, rounded

    def to_cp(self, v: int, board: chess.Board) -> int:
        """The ``score cp`` this engine prints for internal value ``v`` in ``board``."""
        if self.wdl_coeffs is not None:
            x = 100 * int(v) / wdl_a(self.wdl_coeffs, board)
            return int(math.copysign(math.floor(abs(x) + 0.5), x))  # std::round: halves away from zero
        if float(self.pawn).is_integer():
            return int(tdiv(100 * int(v), int(self.pawn)))
        return int(100 * v / self.pawn)

    def from_cp(self, cp: int, board: chess.Board) -> int:
        """An internal value this engine prints as ``cp``: the middle of all values that print so (the rule drops
        the last digits, the middle is the best estimate), so ``to_cp(from_cp(cp)) == cp``."""
        per_pawn = wdl_a(self.wdl_coeffs, board) if self.wdl_coeffs is not None else float(self.pawn)
        span = int(abs(per_pawn)) + 2
        lo_v, hi_v = round(cp * per_pawn / 100) - span, round(cp * per_pawn / 100) + span
        first = bisect.bisect_left(range(lo_v, hi_v), cp, key=lambda v: self.to_cp(v, board)) + lo_v
        last = bisect.bisect_right(range(lo_v, hi_v), cp, key=lambda v: self.to_cp(v, board)) + lo_v - 1
        return (first + last) // 2 if first <= last else round(cp * per_pawn / 100)


def units_for_version(version: str) -> EngineUnits:
    """The rule of Stockfish ``version`` (``"15.1"``, ``"17.1"``, ...); a :class:`BoardnetError` if unknown."""
    if version in WDL_A_COEFFS:
        return EngineUnits(f"Stockfish {version}", wdl_coeffs=WDL_A_COEFFS[version])
    if version in PAWN_UNITS:
        return EngineUnits(f"Stockfish {version}", pawn=PAWN_UNITS[version])
    known = ", ".join(sorted({*PAWN_UNITS, *WDL_A_COEFFS}, key=lambda s: tuple(map(int, s.split(".")))))
    raise BoardnetError(f"Stockfish {version}: unknown centipawn rule (known versions: {known}); "
                        "give --cp-scale (internal units per pawn)")


def units_for_engine(id_name: str, cp_scale: float | None = None) -> EngineUnits:
    """The rule of the engine that calls itself ``id_name`` (UCI ``id name``), or a fixed ``cp_scale``
    (internal units per pawn) when given; an engine boardnet does not know is refused without ``cp_scale``."""
    if cp_scale is not None:
        if not cp_scale > 0:
            raise BoardnetError(f"--cp-scale must be positive, got {cp_scale}")
        return EngineUnits(f"{id_name} (scale {cp_scale:g})", pawn=cp_scale)
    found = re.fullmatch(r"Stockfish (\d+(?:\.\d+)?)\b.*", id_name.strip())
    if not found:
        raise BoardnetError(f"engine {id_name!r}: boardnet knows the centipawn rules of Stockfish releases only; "
                            "give --cp-scale (internal units per pawn) to label with it")
    return units_for_version(found.group(1))
