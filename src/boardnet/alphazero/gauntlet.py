"""``boardnet gauntlet RUN_DIR``: every checkpoint of a run against the previous one (or a fixed opponent), an
Elo-per-iteration table (``gauntlet.csv``) and plot (``gauntlet.png``) in the run directory.

Each match is ``games`` games in colour-alternated pairs (:mod:`boardnet.alphazero.strength`). Against the
previous checkpoint the Elo differences add up to a cumulative rating, the first checkpoint at 0 (its own row
has no match); against a fixed opponent each row is the checkpoint's Elo over that opponent. A match won or lost
outright (a shut-out) has no finite Elo; its row takes the Elo of the score clipped to ``1 - 0.5 / games`` (or
``0.5 / games``), so the cumulative rating stays finite, and keeps an honest interval: open on the far side, the
exact 95% bound on the other (:func:`boardnet.core.elo.clip_shutout`). The row's line says so.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from boardnet.alphazero.strength import random_openings, run_match
from boardnet.core import registry
from boardnet.core.elo import clip_shutout
from boardnet.core.errors import ConfigError
from boardnet.core.match import MatchReport

COLUMNS = ("iteration", "opponent", "games", "wins", "draws", "losses", "elo", "elo_low", "elo_high",
           "cumulative_elo")


@dataclass
class GauntletRow:
    iteration: int
    opponent: str
    games: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0
    elo: float = math.nan        # this checkpoint over its opponent, with the 95% interval
    elo_low: float = math.nan
    elo_high: float = math.nan
    cumulative_elo: float = 0.0  # vs previous: the sum of the differences so far; vs a fixed opponent: elo


def run_gauntlet(run_dir: Path, opponent: str | None, games: int, playouts: int, seed: int = 0,
                 on_match: Callable[[GauntletRow], None] | None = None, opening_plies: int = 2) -> list[GauntletRow]:
    """Play the gauntlet of ``run_dir``'s checkpoints (``opponent``: None = the previous checkpoint, else a
    player name such as ``pure:1000``) -> one row per checkpoint, oldest first. Each pair of a match starts
    from its own random opening of ``opening_plies`` plies (seeded by ``seed``)."""
    from boardnet.alphazero.loading import check_fits, load_board_net, make_player
    from boardnet.alphazero.mcts import MctsSettings
    from boardnet.alphazero.players import MCTSPlayer
    from boardnet.core.config import load_config
    from boardnet.train.checkpoint import CHECKPOINT_RE, list_checkpoints

    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise ConfigError(str(run_dir), "not a run directory (no config.yaml)")
    cfg = load_config(str(cfg_path))
    if cfg.game is None:
        raise ConfigError(str(cfg_path), "the run has no game: section (not an AlphaZero run)")
    game = registry.GAMES.get(cfg.game.type).from_config(cfg.game)
    ckpts = list_checkpoints(run_dir)
    if len(ckpts) < (2 if opponent is None else 1):
        raise ConfigError(str(run_dir / "checkpoints"), f"{len(ckpts)} checkpoint(s): too few for a gauntlet")
    rng = np.random.default_rng(seed)
    settings = MctsSettings(playouts=playouts)

    def player(path: Path) -> MCTSPlayer:
        from boardnet.alphazero.inference import net_evaluator

        net = load_board_net(str(path))
        check_fits(net, game, str(path))
        return MCTSPlayer(game, net_evaluator(net, game), settings, path.name)

    fixed = make_player(opponent, game, playouts, rng)[0](game) if opponent else None
    rows: list[GauntletRow] = []
    previous = None
    for path in ckpts:
        iteration = int(CHECKPOINT_RE.match(path.name).group(1))  # type: ignore[union-attr]
        me = player(path)
        opp = fixed if fixed is not None else previous
        previous = me
        if opp is None:  # the first checkpoint against the previous: the anchor
            rows.append(GauntletRow(iteration, "-"))
            continue
        # Players pick their most-visited move: without varied starts every pair would repeat the same games.
        rep = run_match(game, me, opp, games, random_openings(game, games // 2, opening_plies, rng))
        base = rows[-1].cumulative_elo if fixed is None else 0.0
        rows.append(match_row(iteration, opponent or f"iteration {rows[-1].iteration}", rep, base))
        if on_match is not None:
            on_match(rows[-1])
    if fixed is not None and hasattr(fixed, "close"):
        fixed.close()
    return rows


def match_row(iteration: int, opponent: str, rep: MatchReport, base: float) -> GauntletRow:
    """The row of checkpoint ``iteration``'s match: its Elo over ``opponent`` (a shut-out's clipped, see the
    module docstring) and the cumulative rating ``base`` + that Elo."""
    w, d, lost = rep.wdl
    est = clip_shutout(rep.elo, len(rep.winners))
    return GauntletRow(iteration, opponent, len(rep.winners), w, d, lost, est.elo, est.low, est.high, base + est.elo)


def shutout(row: GauntletRow) -> bool:
    """Whether the row's match was won or lost outright (its Elo is of a clipped score)."""
    return row.games > 0 and row.games in (row.wins, row.losses)


def row_line(row: GauntletRow) -> str:
    """``iteration 3 vs iteration 2: +3 =1 -0  Elo +240.8 [+12.0, +inf]  cumulative +301.2``, and for a
    shut-out which clipped score its Elo is of."""
    line = (f"iteration {row.iteration} vs {row.opponent}: +{row.wins} ={row.draws} -{row.losses}  "
            f"Elo {row.elo:+.1f} [{row.elo_low:+.1f}, {row.elo_high:+.1f}]  cumulative {row.cumulative_elo:+.1f}")
    if shutout(row):
        clipped = 1 - 0.5 / row.games if row.wins else 0.5 / row.games
        line += f"  (shut-out: Elo of the score clipped to {clipped:.3g}, 0.5 game from a sweep)"
    return line


def table_csv(rows: list[GauntletRow]) -> str:
    """The table as CSV text (Elo figures to 0.1, ``inf`` / ``nan`` where not finite)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.1f}" if isinstance(v, float) else v) for k, v in asdict(r).items()})
    return out.getvalue()


def write_outputs(run_dir: Path, rows: list[GauntletRow], title: str) -> tuple[Path, Path]:
    """``gauntlet.csv`` and ``gauntlet.png`` in ``run_dir``, each written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from boardnet.core.io import atomic_write

    csv_path, png_path = run_dir / "gauntlet.csv", run_dir / "gauntlet.png"
    text = table_csv(rows)
    atomic_write(csv_path, lambda tmp: Path(tmp).write_text(text))
    fig, ax = plt.subplots(figsize=(7, 4))
    vs_previous = rows[0].opponent == "-"
    pts = [r for r in rows if math.isfinite(r.cumulative_elo)]
    if pts:
        x = [r.iteration for r in pts]
        y = [r.cumulative_elo for r in pts]
        lo = [r.cumulative_elo - (r.elo - r.elo_low) if math.isfinite(r.elo_low) else r.cumulative_elo for r in pts]
        hi = [r.cumulative_elo + (r.elo_high - r.elo) if math.isfinite(r.elo_high) else r.cumulative_elo
              for r in pts]
        ax.plot(x, y, marker="o")
        ax.fill_between(x, lo, hi, alpha=0.2, label="95% interval of each match")
        swept = [r for r in pts if shutout(r)]
        if swept:
            ax.scatter([r.iteration for r in swept], [r.cumulative_elo for r in swept], marker="*", s=120,
                       zorder=3, color="tab:red", label="shut-out (score clipped 0.5 game)")
        if len(x) == 1:
            ax.set_xlim(x[0] - 1, x[0] + 1)
        ax.legend(loc="best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel("cumulative Elo (vs previous)" if vs_previous else f"Elo vs {rows[-1].opponent}")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(png_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)
    return csv_path, png_path
