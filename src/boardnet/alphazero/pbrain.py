"""The Gomocup ``pbrain`` protocol, both sides: a boardnet Gomoku net as an engine, and any Gomocup engine as a
player for the arena.

Protocol (Gomocup/Piskvork, text lines over stdin/stdout; the engine answers each command):

    START n          -> OK | ERROR msg        a new n x n game (RECTSTART w,h for rectangles)
    RESTART          -> OK                    a new game on the same board
    BEGIN            -> x,y                   the engine moves first
    TURN x,y         -> x,y                   the opponent played x,y; the engine answers
    BOARD / x,y,f ... / DONE -> x,y           a whole position (f 1 = own stone, 2 = opponent's, 3 = either,
                                              continuous-game mode); the engine to move
    INFO key value   -> (nothing)             timeout_turn / timeout_match / time_left (ms), max_memory (bytes),
                                              rule, game_type, ...
    ABOUT            -> name="...", ...
    END              -> (exits)

Coordinates are Gomocup's ``x,y``: x the column from the left, y the row from the TOP, both 0-based. boardnet's
action ``m = row * size + col`` counts rows from the bottom (row 0 = bottom, as ``play`` prints), so
``x = col`` and ``y = size - 1 - row``.

Time (engine side): a move may use ``min(timeout_turn, time_left / max(empty / 2, 5))`` less a safety margin;
the net's MCTS runs chunks of playouts sized by its measured rate to end within that budget, up to ``playouts``.
Both timeouts 0 (Gomocup's "as fast as possible") give one playout: the net's prior move.
"""

from __future__ import annotations

import math
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from boardnet.alphazero.game import LeafEvaluator
from boardnet.alphazero.games.gomoku import Gomoku
from boardnet.alphazero.mcts import Forest, MctsSettings, search
from boardnet.core.errors import BoardnetError

ABOUT = 'name="boardnet", version="1", author="boardnet", country="-", www="-"'
MARGIN_S = 0.05     # kept off every budget: process and pipe latency, the last chunk's overrun
CHUNK = 16          # playouts between clock checks
START_TIMEOUT_S = 180.0  # an engine's start-up (loading torch and a net on a busy machine) before it says OK


class PbrainError(BoardnetError):
    """A Gomocup engine broke the protocol, lost its process or overran its time."""


def to_xy(size: int, action: int) -> tuple[int, int]:
    """boardnet action -> Gomocup ``(x, y)`` (x = column, y = row from the top)."""
    row, col = divmod(int(action), size)
    return col, size - 1 - row


def from_xy(size: int, x: int, y: int) -> int:
    """Gomocup ``(x, y)`` -> boardnet action; ValueError off the board."""
    if not (0 <= x < size and 0 <= y < size):
        raise ValueError(f"{x},{y} is off the {size}x{size} board")
    return (size - 1 - y) * size + x


def parse_xy(text: str, size: int) -> int:
    """``"x,y"`` -> action; ValueError naming the text otherwise."""
    parts = text.strip().split(",")
    if len(parts) < 2 or not all(p.strip().lstrip("-").isdigit() for p in parts[:2]):
        raise ValueError(f"expected x,y, got '{text.strip()}'")
    return from_xy(size, int(parts[0]), int(parts[1]))


@dataclass
class TimeControl:
    """Gomocup's INFO limits, in milliseconds (0 = unlimited for the match, 'fast' for the turn)."""

    timeout_turn: int = 5000
    timeout_match: int = 0
    time_left: int | None = None
    max_memory: int = 0

    def budget_s(self, empty: int) -> float:
        """Seconds this move may take on a board with ``empty`` free points (before :data:`MARGIN_S`)."""
        limits = [self.timeout_turn / 1000.0] if self.timeout_turn > 0 else []
        if self.timeout_match > 0:
            left = self.time_left if self.time_left is not None else self.timeout_match
            limits.append(left / 1000.0 / max(empty / 2, 5))
        return min(limits) if limits else 0.0


def timed_move(game: Gomoku, evaluate: LeafEvaluator, settings: MctsSettings, boards: np.ndarray,
               last: np.ndarray, budget_s: float) -> tuple[int, int]:
    """The most-visited move of an MCTS from one state (``boards int8 [1, S]``, ``last [1]``) -> ``(action,
    playouts run)``. It runs one playout (the root's expansion: the net's prior decides), then chunks of at most :data:`CHUNK` sized by the measured rate to end
    by ``budget_s - MARGIN_S``, up to ``settings.playouts``."""
    t0 = time.monotonic()
    deadline = t0 + budget_s - MARGIN_S
    forest = Forest(game, 1, capacity=min(settings.playouts, 4 * CHUNK) + 2)
    games = np.zeros(1, np.int64)
    done, n = 0, 1
    while n > 0:
        search(forest, games, boards, last, evaluate, settings.model_copy(update={"playouts": n}))
        done += n
        now = time.monotonic()
        per_playout = (now - t0) / done
        n = min(CHUNK, settings.playouts - done, int((deadline - now) / per_playout))
    # Most visits, ties (a search of one playout has only expanded the root) broken by the net's prior.
    return int((forest.N[0, 0] + 0.5 * forest.P[0, 0]).argmax()), done


@dataclass
class PbrainEngine:
    """The engine side: one net, one game at a time. :meth:`handle` takes a command line and returns the
    answer lines; :meth:`serve` runs it over text streams until END or end of input."""

    game: Gomoku
    evaluate: LeafEvaluator
    settings: MctsSettings = field(default_factory=MctsSettings)
    time: TimeControl = field(default_factory=TimeControl)
    log: IO[str] | None = None  # each move with its playouts and seconds, for the curious (stderr by default)
    boards: np.ndarray = field(init=False)
    last: np.ndarray = field(init=False)
    _board_lines: list[str] | None = field(init=False, default=None)
    started: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.boards, self.last = self.game.initial_state(1)

    # -------------------------------------------------------------- commands
    def handle(self, line: str) -> list[str]:
        words = line.strip().split()
        if self._board_lines is not None:  # inside BOARD ... DONE
            if words and words[0].upper() == "DONE":
                return self._board_done()
            self._board_lines.append(line.strip())
            return []
        if not words:
            return []
        cmd, rest = words[0].upper(), line.strip()[len(words[0]):].strip()
        try:
            if cmd == "START":
                return self._start(rest, rest)
            if cmd == "RECTSTART":
                w, _, h = rest.partition(",")
                return self._start(w, h)
            if cmd == "RESTART":
                self.boards, self.last = self.game.initial_state(1)
                return ["OK"]
            if cmd == "ABOUT":
                return [ABOUT]
            if cmd == "INFO":
                return self._info(rest)
            if cmd == "END":
                return []
            if not self.started:
                return [f"ERROR {cmd} before START"]
            if cmd == "BEGIN":
                if (self.boards[0] != 0).any():
                    return ["ERROR BEGIN on a board that is not empty"]
                return [self._think()]
            if cmd == "TURN":
                self._play(parse_xy(rest, self.game.size))
                return [self._think()]
            if cmd == "BOARD":
                self._board_lines = []
                return []
        except ValueError as e:
            return [f"ERROR {e}"]
        return [f"UNKNOWN {cmd}"]

    def serve(self, inp: IO[str], out: IO[str]) -> None:
        for line in inp:
            for answer in self.handle(line):
                print(answer, file=out, flush=True)
            if line.strip().upper() == "END":
                return

    # -------------------------------------------------------------- helpers
    def _start(self, w: str, h: str) -> list[str]:
        if not (w.strip().isdigit() and h.strip().isdigit()):
            return [f"ERROR bad board size '{w},{h}'"]
        if int(w) != self.game.size or int(h) != self.game.size:
            return [f"ERROR unsupported size {w}x{h}: this net plays {self.game.size}x{self.game.size}"]
        self.boards, self.last = self.game.initial_state(1)
        # Warm-up off the clock: compiles the search kernels and runs the net once.
        timed_move(self.game, self.evaluate, self.settings, self.boards, self.last, 0.0)
        self.started = True
        return ["OK"]

    def _info(self, rest: str) -> list[str]:
        key, _, value = rest.partition(" ")
        key, value = key.lower(), value.strip()
        if key in ("timeout_turn", "timeout_match", "time_left", "max_memory"):
            try:
                setattr(self.time, key, int(value))
            except ValueError:
                return [f"ERROR INFO {key} needs an integer, got '{value}'"]
        return []  # other keys (rule, game_type, folder, ...) are accepted and ignored

    def _play(self, action: int) -> None:
        if self.boards[0, action] != 0:
            raise ValueError(f"{','.join(map(str, to_xy(self.game.size, action)))} is taken")
        if not math.isnan(float(self.game.outcome(self.boards, self.last)[0])):
            raise ValueError("the game is over")
        self.boards, self.last = self.game.play(self.boards, self.last, np.array([action]))

    def _board_done(self) -> list[str]:
        own, opp = [], []
        lines, self._board_lines = self._board_lines or [], None
        for text in lines:
            parts = text.split(",")
            if len(parts) != 3 or parts[2].strip() not in ("1", "2", "3"):
                return [f"ERROR bad BOARD line '{text}': expected x,y,field with field 1, 2 or 3"]
            try:
                action = parse_xy(text, self.game.size)
            except ValueError as e:
                return [f"ERROR {e}"]
            (own if parts[2].strip() == "1" else opp).append(action)
        if len(own) not in (len(opp), len(opp) - 1):
            return [f"ERROR BOARD with {len(own)} own and {len(opp)} opponent stones: not this engine's turn"]
        me, you = (1, 2) if len(own) == len(opp) else (2, 1)
        board = np.zeros_like(self.boards)
        for stones, colour in ((own, me), (opp, you)):
            if len(set(stones)) != len(stones) or (board[0, stones] != 0).any():
                return ["ERROR BOARD names a point twice"]
            board[0, stones] = colour
        self.boards = board
        self.last = np.array([opp[-1] if opp else -1], np.int64)  # the net's last-move plane: the opponent's
        return [self._think()]

    def _think(self) -> str:
        if not math.isnan(float(self.game.outcome(self.boards, self.last)[0])):
            return "ERROR the game is over"
        empty = int((self.boards[0, : self.game.action_size] == 0).sum())
        t0 = time.monotonic()
        budget = self.time.budget_s(empty)
        action, playouts = timed_move(self.game, self.evaluate, self.settings, self.boards, self.last, budget)
        spent = time.monotonic() - t0
        if self.time.time_left is not None:
            self.time.time_left = max(0, self.time.time_left - int(spent * 1000))
        self._play(action)
        x, y = to_xy(self.game.size, action)
        print(f"boardnet pbrain: {x},{y} after {playouts} playouts in {spent:.3f} s (budget {budget:.3f} s)",
              file=self.log or sys.stderr, flush=True)
        return f"{x},{y}"


# ------------------------------------------------------------------------------ the manager side


class PbrainPlayer:
    """Any Gomocup engine as an arena player (``pbrain:PATH[:timeout_ms]``): one engine process, every move
    asked for with ``BOARD`` (so one process serves any number of parallel games), at ``timeout_turn`` ms.

    The engine must answer within ``timeout_turn`` plus ``grace_s``; otherwise, or on an illegal move, a
    protocol error or a dead process, :class:`PbrainError` names the engine and what it did.
    """

    def __init__(self, game: Gomoku, command: list[str], timeout_turn_ms: int = 1000, name: str | None = None,
                 grace_s: float = 2.0, info: dict[str, Any] | None = None) -> None:
        if not isinstance(game, Gomoku):
            raise PbrainError(f"pbrain engines play Gomoku, not {game}")
        self.game, self.command, self.name = game, command, name or f"pbrain:{command[-1]}"
        self.timeout_turn_ms, self.grace_s = timeout_turn_ms, grace_s
        self.longest_s = 0.0  # the slowest answer seen
        try:
            self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, bufsize=1)
        except OSError as e:
            raise PbrainError(f"{self.name}: cannot start {command[0]}: {e}") from e
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._send(f"START {game.size}")
        self._expect_ok(f"START {game.size}", START_TIMEOUT_S)
        for key, value in {"timeout_turn": timeout_turn_ms, "timeout_match": 0, "rule": 0,
                           **(info or {})}.items():
            self._send(f"INFO {key} {value}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\r\n"))
        self.lines.put(None)

    def _send(self, text: str) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise PbrainError(f"{self.name}: the engine is gone ({e}) while sending '{text}'") from e

    def _answer(self, after: str, timeout_s: float) -> str:
        """The next line that is not MESSAGE/DEBUG, within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise PbrainError(f"{self.name}: no answer to '{after}' within {timeout_s:.1f} s") from None
            if line is None:
                raise PbrainError(f"{self.name}: the engine exited after '{after}'")
            word = line.split(" ", 1)[0].upper()
            if word in ("MESSAGE", "DEBUG", "SUGGEST") or not line.strip():
                continue
            if word in ("ERROR", "UNKNOWN"):
                raise PbrainError(f"{self.name}: '{line}' in answer to '{after}'")
            return line

    def _expect_ok(self, after: str, timeout_s: float) -> None:
        line = self._answer(after, timeout_s)
        if line.strip().upper() != "OK":
            raise PbrainError(f"{self.name}: expected OK to '{after}', got '{line}'")

    def move(self, board: np.ndarray, last: int) -> int:
        """The engine's move in one position (``board int8 [S]``, the engine to move, ``last`` played last)."""
        me = 1 if int((board == 1).sum()) == int((board == 2).sum()) else 2
        cells = board[: self.game.action_size]
        stones = [int(a) for a in np.nonzero(cells)[0] if a != last]
        stones += [last] if last >= 0 else []
        lines = ["BOARD"] + [
            "{},{},{}".format(*to_xy(self.game.size, a), 1 if cells[a] == me else 2) for a in stones] + ["DONE"]
        for text in lines:
            self._send(text)
        t0 = time.monotonic()
        answer = self._answer("BOARD", self.timeout_turn_ms / 1000.0 + self.grace_s)
        self.longest_s = max(self.longest_s, time.monotonic() - t0)
        try:
            action = parse_xy(answer, self.game.size)
        except ValueError as e:
            raise PbrainError(f"{self.name}: bad move '{answer}': {e}") from None
        if cells[action] != 0:
            raise PbrainError(f"{self.name}: illegal move '{answer}' (the point is taken)")
        return action

    def moves(self, boards: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Arena interface: ``boards int8 [g, S]``, ``last [g]`` -> actions ``int [g]``, one BOARD each."""
        return np.array([self.move(b, int(lm)) for b, lm in zip(boards, last)], np.int64)

    def close(self) -> None:
        """END, then wait a moment and kill the process if it lingers."""
        if self.proc.poll() is None:
            try:
                self._send("END")
                self.proc.wait(timeout=2.0)
            except (PbrainError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()

    def __del__(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.kill()
