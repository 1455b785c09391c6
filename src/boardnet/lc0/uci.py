"""``boardnet uci NET``: a UCI engine (stdin/stdout) playing an lc0 net with :mod:`boardnet.lc0.search`.

Commands: ``uci``, ``isready``, ``ucinewgame``, ``setoption name N [value V]``, ``position startpos|fen F [moves
...]``, ``go [nodes N] [movetime MS] [wtime MS] [btime MS] [winc MS] [binc MS] [movestogo N] [infinite]
[searchmoves M...]``, ``stop``, ``quit``. The search runs in its own thread, so ``stop`` and ``isready`` are
answered while it thinks. ``info depth D seldepth S time MS nodes N score cp C|mate M wdl W D L nps X pv ...``
every second and at the end, then ``bestmove``. Score: lc0's ``cp = 90 · tan(1.5637541897 · Q)``.
The net loads in the background after start-up; ``isready`` answers ``readyok`` once it is loaded.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import chess

from boardnet import __version__
from boardnet.core.errors import BoardnetError
from boardnet.lc0.evaluator import BACKENDS, Evaluator
from boardnet.lc0.search import Info, Limits, Node, Search, SearchParams, q_to_cp, reuse_tree

MAX_SHARE = 0.8  # of the clock (less the move overhead) one move may use, even with movestogo 1
DEFAULT_MOVES_TO_GO = 30  # expected moves left in sudden death (time / this per move, plus most of the increment)


@dataclass(frozen=True)
class Option:
    """A UCI option: ``type`` spin/string/check/combo, its default, bounds or choices, and the setter."""

    name: str
    type: str
    default: str
    apply: Callable[[Engine, str], None]
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] = ()

    def declaration(self) -> str:
        line = f"option name {self.name} type {self.type} default {self.default}"
        if self.type == "spin":
            line += f" min {self.min} max {self.max}"
        for c in self.choices:
            line += f" var {c}"
        return line


def _float(field: str, lo: float, hi: float) -> Callable[[Engine, str], None]:
    def apply(engine: Engine, value: str) -> None:
        x = float(value)
        if not lo <= x <= hi:
            raise ValueError(f"{value} is outside [{lo}, {hi}]")
        setattr(engine.params, field, x)

    return apply


def _set_threads(engine: Engine, value: str) -> None:
    engine.threads = int(value)
    engine.evaluator.threads = engine.threads  # used by a load still under way
    if engine.evaluator_ready.is_set() and engine.load_error is None:
        engine.evaluator.set_threads(engine.threads)


def _set_minibatch(engine: Engine, value: str) -> None:
    engine.params.minibatch = int(value)


def _set_overhead(engine: Engine, value: str) -> None:
    engine.move_overhead = int(value) / 1000.0


def _set_fpu_strategy(engine: Engine, value: str) -> None:
    engine.params.fpu_absolute = value == "absolute"


def _set_backend(engine: Engine, value: str) -> None:
    if value != engine.backend:
        engine.backend = value
        engine.load()


def _set_two_fold(engine: Engine, value: str) -> None:
    engine.params.two_fold_draws = value.lower() == "true"


DEFAULTS = SearchParams()
OPTIONS = (
    Option("Threads", "spin", "1", _set_threads, 1, 128),  # the net backend's intra-op threads
    Option("MinibatchSize", "spin", str(DEFAULTS.minibatch), _set_minibatch, 1, 1024),
    Option("CPuct", "string", f"{DEFAULTS.cpuct}", _float("cpuct", 0.0, 100.0)),
    Option("CPuctBase", "string", f"{DEFAULTS.cpuct_base}", _float("cpuct_base", 1.0, 1e9)),
    Option("CPuctFactor", "string", f"{DEFAULTS.cpuct_factor}", _float("cpuct_factor", 0.0, 1000.0)),
    Option("FpuStrategy", "combo", "reduction", _set_fpu_strategy, choices=("reduction", "absolute")),
    Option("FpuValue", "string", f"{DEFAULTS.fpu_value}", _float("fpu_value", -100.0, 100.0)),
    Option("PolicyTemperature", "string", f"{DEFAULTS.policy_temperature}",
           _float("policy_temperature", 0.1, 10.0)),
    Option("Temperature", "string", f"{DEFAULTS.temperature}", _float("temperature", 0.0, 100.0)),
    Option("TwoFoldDraws", "check", "true", _set_two_fold),
    Option("MoveOverheadMs", "spin", "200", _set_overhead, 0, 100000),  # lc0's default
    Option("Backend", "combo", "", _set_backend, choices=BACKENDS),
    Option("Ponder", "check", "false", lambda engine, value: None),  # GUIs send it; "go ponder" always works
)


def parse_position(tokens: list[str]) -> chess.Board:
    """``startpos|fen F... [moves M...]`` -> the board with its move stack; ValueError on a bad FEN or move."""
    if not tokens:
        raise ValueError("position needs startpos or fen")
    if "moves" in tokens:
        cut = tokens.index("moves")
        head, moves = tokens[:cut], tokens[cut + 1:]
    else:
        head, moves = tokens, []
    if head[0] == "startpos":
        board = chess.Board()
    elif head[0] == "fen":
        board = chess.Board(" ".join(head[1:]))  # ValueError for a bad FEN
    else:
        raise ValueError(f"position {head[0]}: expected startpos or fen")
    for i, uci in enumerate(moves):
        try:
            move = board.parse_uci(uci)  # accepts e1g1 and e1h1 castling, checks legality
        except ValueError:
            raise ValueError(f"move {i + 1} '{uci}' is not legal in {board.fen()}") from None
        board.push(move)
    return board


def time_budget(board: chess.Board, go: dict[str, int], overhead: float) -> float | None:
    """Seconds to think under ``go``'s clock fields, or None for no time limit.

    ``movetime``: that, less the move overhead. ``wtime/btime``: our time / moves to go (``movestogo``, else
    30) plus 3/4 of the increment, never more than 80% of our time less the overhead (at least 10 ms): the last
    minibatch, the reply and a busy machine's scheduling come on top.
    """
    if "movetime" in go:
        t = go["movetime"] / 1000.0
        return max(0.01, t - min(overhead, t / 2))
    side = "w" if board.turn == chess.WHITE else "b"
    if f"{side}time" not in go:
        return None
    left = go[f"{side}time"] / 1000.0
    inc = go.get(f"{side}inc", 0) / 1000.0
    mtg = max(1, go.get("movestogo", DEFAULT_MOVES_TO_GO))
    budget = left / mtg + 0.75 * inc
    return max(0.01, min(budget, MAX_SHARE * (left - overhead)))


GO_INT_FIELDS = ("nodes", "movetime", "wtime", "btime", "winc", "binc", "movestogo", "depth", "mate")


def parse_go(tokens: list[str]) -> tuple[dict[str, int], bool, list[str]]:
    """``go`` arguments -> (integer fields, infinite/ponder, searchmoves)."""
    fields: dict[str, int] = {}
    infinite, searchmoves, i = False, [], 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in GO_INT_FIELDS and i + 1 < len(tokens):
            fields[tok] = int(tokens[i + 1])
            i += 2
        elif tok in ("infinite", "ponder"):
            infinite, i = True, i + 1
        elif tok == "searchmoves":
            i += 1
            while i < len(tokens) and tokens[i] not in GO_INT_FIELDS + ("infinite", "ponder"):
                searchmoves.append(tokens[i])
                i += 1
        else:
            i += 1
    return fields, infinite, searchmoves


class Engine:
    """The UCI state machine; :meth:`handle` takes one input line, output goes to ``out`` (thread-safe)."""

    def __init__(self, net_path: str, out: IO[str] = sys.stdout, backend: str | None = None) -> None:
        self.net_path = net_path
        self.out = out
        self.params = SearchParams()
        self.threads = 1
        self.move_overhead = 0.2
        self.backend = backend or ""
        self.board = chess.Board()
        self.evaluator_ready = threading.Event()
        self.load_error: str | None = None
        self._lock = threading.Lock()
        self._search: Search | None = None
        self._thread: threading.Thread | None = None
        self._ponder: tuple[Limits, float | None, int | None] | None = None
        self._limits: Limits | None = None
        self._tree: tuple[chess.Board, Node] | None = None  # the last search's position and tree, for reuse
        self.evaluator = Evaluator(net_path, backend or None, self.threads)  # reads the file: errors raise here
        self.backend = self.evaluator.backend
        self._prepare()

    def load(self) -> None:
        """Re-read the net for a new backend (``setoption name Backend``)."""
        self.stop()
        self.evaluator_ready.clear()
        self.evaluator = Evaluator(self.net_path, self.backend, self.threads)
        self._prepare()

    def _prepare(self) -> None:
        ev = self.evaluator

        def work() -> None:
            try:
                ev.prepare()
            except BoardnetError as err:
                self.load_error = str(err)
            self.evaluator_ready.set()

        threading.Thread(target=work, name="boardnet-load", daemon=True).start()

    def send(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    # ---- commands ------------------------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Process one command line; False on ``quit``."""
        tokens = line.split()
        if not tokens:
            return True
        cmd, args = tokens[0], tokens[1:]
        if cmd == "quit":
            self.stop()
            return False
        handler = getattr(self, f"cmd_{cmd}", None)
        if handler is None:
            self.send(f"info string unknown command: {line.strip()}")
            return True
        try:
            handler(args)
        except (ValueError, BoardnetError) as err:
            self.send(f"info string error: {err}")
        return True

    def cmd_uci(self, args: list[str]) -> None:
        self.send(f"id name boardnet {__version__} ({self.evaluator.path.name})")
        self.send("id author boardnet developers")
        for opt in OPTIONS:
            default = self.backend if opt.name == "Backend" else opt.default
            self.send(Option(opt.name, opt.type, default, opt.apply, opt.min, opt.max, opt.choices).declaration())
        self.send("uciok")

    def cmd_isready(self, args: list[str]) -> None:
        self._wait_loaded()
        self.send("readyok")

    def cmd_ucinewgame(self, args: list[str]) -> None:
        self.stop()
        self.board = chess.Board()
        self._tree = None

    def cmd_setoption(self, args: list[str]) -> None:
        text = " ".join(args)
        if not text.startswith("name "):
            raise ValueError("setoption needs 'name'")
        name, _, value = text[5:].partition(" value ")
        opt = next((o for o in OPTIONS if o.name.lower() == name.strip().lower()), None)
        if opt is None:
            raise ValueError(f"unknown option '{name.strip()}'")
        if opt.type == "spin" and not opt.min <= int(value) <= opt.max:
            raise ValueError(f"{opt.name} {value} is outside [{opt.min}, {opt.max}]")
        if opt.choices and value.strip() not in opt.choices:
            raise ValueError(f"{opt.name} {value}: expected one of {', '.join(opt.choices)}")
        opt.apply(self, value.strip())

    def cmd_position(self, args: list[str]) -> None:
        self.stop()
        self.board = parse_position(args)

    def cmd_go(self, args: list[str]) -> None:
        self.stop()
        self._wait_loaded()
        if self.load_error is not None:  # a GUI waits for bestmove: say why there is none
            self.send(f"info string error: the net did not load: {self.load_error}")
            self.send("bestmove (none)")
            return
        fields, infinite, names = parse_go(args)
        searchmoves = [self.board.parse_uci(m) for m in names] or None
        budget = None if infinite else time_budget(self.board, fields, self.move_overhead)
        limits = Limits(nodes=None if infinite else fields.get("nodes"), infinite=infinite,
                        depth=None if infinite else fields.get("depth"),
                        deadline=None if budget is None else time.monotonic() + budget)
        if not infinite and "mate" not in fields and limits.nodes is None and limits.deadline is None \
                and limits.depth is None:
            limits.infinite = True  # bare "go": think until stop, as lc0 does ("go mate N": until proven)
        if "ponder" in args:  # ponderhit turns it into a search under the clock fields
            self._ponder = (limits, time_budget(self.board, fields, self.move_overhead), fields.get("nodes"))
        root = reuse_tree(*self._tree, self.board) if self._tree is not None else None
        search = Search(self.board, self.evaluator, self.params, searchmoves, on_info=self._info, info_interval=0.5,
                        root=root)
        self._tree = (self.board.copy(), search.root)
        self._search, self._limits = search, limits
        self._thread = threading.Thread(target=self._think, args=(search, limits), name="boardnet-search",
                                        daemon=True)
        self._thread.start()

    def cmd_stop(self, args: list[str]) -> None:
        self.stop()

    def cmd_ponderhit(self, args: list[str]) -> None:
        if self._ponder is not None:
            limits, budget, nodes = self._ponder
            limits.nodes = nodes
            limits.deadline = None if budget is None else time.monotonic() + budget
            limits.infinite = limits.nodes is None and limits.deadline is None
            self._ponder = None

    # ---- helpers -------------------------------------------------------------------------------------------
    def _wait_loaded(self) -> None:
        self.evaluator_ready.wait()

    def stop(self) -> None:
        """Stop a running search and wait for its ``bestmove``."""
        if self._search is not None:
            self._search.stop()
        if self._thread is not None:
            self._thread.join()
        self._search = self._thread = None
        self._ponder = None

    def finish(self) -> None:
        """End of input: let a limited search finish (and print its ``bestmove``), stop an infinite one."""
        if self._thread is not None and self._limits is not None and not self._limits.infinite:
            self._thread.join()
        self.stop()

    def _think(self, search: Search, limits: Limits) -> None:
        try:
            move = search.run(limits)
        except Exception as err:  # a GUI waits for bestmove whatever happens: report, answer the best so far
            self.send(f"info string error: search failed: {type(err).__name__}: {err}")
            move = search.best_move()
        if limits.infinite:  # UCI: no bestmove before "stop" in infinite/ponder mode
            search.wait_stopped()
        pv = search.pv()
        tail = f" ponder {pv[1].uci()}" if move is not None and len(pv) > 1 and pv[0] == move else ""
        self.send(f"bestmove {move.uci() if move is not None else '(none)'}{tail}")

    def _info(self, info: Info) -> None:
        score = f"mate {info.mate}" if info.mate is not None else f"cp {q_to_cp(info.q)}"
        pv = " ".join(m.uci() for m in info.pv)
        self.send(f"info depth {info.depth} seldepth {info.seldepth} time {info.time_ms} nodes {info.nodes} "
                  f"score {score} wdl {info.wdl[0]} {info.wdl[1]} {info.wdl[2]} nps {info.nps}"
                  + (f" pv {pv}" if pv else ""))


def run(net_path: str, inp: IO[str] | None = None, out: IO[str] | None = None, backend: str | None = None) -> int:
    """Serve UCI on ``inp``/``out`` (default: the process's stdin/stdout at call time) until ``quit`` or end of
    input."""
    engine = Engine(net_path, out or sys.stdout, backend)
    for line in inp or sys.stdin:
        if not engine.handle(line):
            break
    else:
        engine.finish()
    return 0
