"""Fuzz every reader and file-taking CLI verb with mutated real files (see tests/fuzzing.py for the harness).

Each reader class gets ``BOARDNET_FUZZ_N`` mutations of its seeds (default 10; ``BOARDNET_FUZZ=long``: 10,000)
plus the special inputs (FIFO, symlink to /dev/zero, directory, empty file, missing file) and, where a format
can declare sizes, crafted declared-size bombs. Every input runs in a forked child under a 1 GiB address-space
limit and a time limit: 0 tracebacks, 0 hangs, 0 allocations beyond the limit, and after each failing write the
old output intact with no temp files. ``BOARDNET_FUZZ_REPORT=FILE`` appends the counts per class as JSON.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import FIXTURES, ROOT, stockfish_binary
from tests.fuzzing import OLD, FuzzServer, mutate, mutate_gzip_payload, npy_header, write_zero_npz

LONG = os.environ.get("BOARDNET_FUZZ", "").lower() == "long"
N = int(os.environ.get("BOARDNET_FUZZ_N", "10000" if LONG else "10"))
TIMEOUT = int(os.environ.get("BOARDNET_FUZZ_TIMEOUT", "60"))
FEN = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"
VERB_N = int(os.environ.get("BOARDNET_FUZZ_VERB_N", "1000" if LONG else "5"))
TINY_TRAIN = ["train.batch_size=8", "data.workers=0", "data.games_per_iteration=1", "data.mcts.playouts=2",
              "evaluators=[]", "train.checkpoint_every=1", "train.progress=false", "train.plot=false"]
SPECIALS = ("fifo", "dev-zero", "directory", "empty", "missing")


def _seed_pgn() -> str:
    import chess

    rng, games = random.Random(1), []
    for g in range(6):
        board, sans = chess.Board(), []
        for _ in range(rng.randint(10, 60)):
            moves = list(board.legal_moves)
            if not moves:
                break
            move = rng.choice(moves)
            sans.append(board.san(move))
            board.push(move)
        result = ["1-0", "0-1", "1/2-1/2"][g % 3]
        games.append(f'[Event "g{g}"]\n[Result "{result}"]\n\n{" ".join(sans)} {result}\n')
    return "\n".join(games)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Seed files per reader class, from ../shared/fixtures (and data made from real games)."""
    import chess
    import torch

    from boardnet.cli import main
    from boardnet.core.io import read_pt
    from boardnet.lc0.chunks import pgn_records, write_chunk
    from boardnet.nnue.data.bin import write_bin

    d = tmp_path_factory.mktemp("seeds")
    small = "nnue_modern/nn-37f18f62d772.nnue.gz"  # Stockfish 17's small net (the modern layout)
    need = [FIXTURES / p for p in ("lc0/maia-1300.pb.gz", "nnue/halfkp_rand_a.nnue.gz", small, "azg/io_6_6_4.npz",
                                   "tf/gomoku_tf1_8x8/model.ckpt.index", "tf/gomoku_keras_15x15/model.keras")]
    for p in need:
        if not p.exists():
            from tests.conftest import need as missing

            missing(str(p))
    maia = FIXTURES / "lc0" / "maia-1300.pb.gz"
    for suffix in ("pt", "safetensors", "onnx"):  # boardnet's own files: their checksums are fuzzed too
        assert main(["convert", str(maia), str(d / f"maia.{suffix}")]) == 0
    net = read_pt(d / "maia.pt")
    from boardnet.core.io import spec_to_dict

    ckpt = {"format": "boardnet-checkpoint", "step": 7,
            "nets": {"net": {"spec": spec_to_dict(net.spec), "state_dict": net.state_dict, "ema": net.state_dict}}}
    torch.save(ckpt, d / "ckpt.pt")
    with gzip.open(FIXTURES / "nnue" / "halfkp_rand_a.nnue.gz") as fh:
        (d / "kp.nnue").write_bytes(fh.read())
    with gzip.open(FIXTURES / small) as fh:
        (d / "small.nnue").write_bytes(fh.read())
    assert main(["convert", str(d / "small.nnue"), str(d / "small.pt")]) == 0  # its spec and meta fuzzed too
    (d / "games.pgn").write_text(_seed_pgn())
    records = pgn_records(d / "games.pgn")
    write_chunk(d / "chunk.gz", records[:40])
    rng, boards = random.Random(2), []
    for _ in range(6):
        board = chess.Board()
        for _ in range(40):
            moves = list(board.legal_moves)
            if not moves or board.is_game_over():
                break
            move = rng.choice(moves)
            boards.append((board.copy(), rng.randint(-300, 300), move, board.ply(), rng.choice([-1, 0, 1])))
            board.push(move)
    write_bin(d / "data.bin", boards)
    assert main(["nnue", "data", str(d / "data.bin"), str(d / "data.binpack")]) == 0
    assert main(["nnue", "data", str(d / "data.bin"), str(d / "data.plain")]) == 0
    shutil.copy(ROOT / "src" / "boardnet" / "configs" / "gomoku-6x6.yaml", d / "config.yaml")
    shutil.copy(ROOT / "src" / "boardnet" / "tfimport" / "mappings" / "azg_tf1.yaml", d / "mapping.yaml")
    assert main(["selfplay", str(FIXTURES / "azg" / "best_policy_6_6_4.model"), "--games", "1", "--playouts", "2",
                 "--no-progress", "--out", str(d / "selfplay.npz")]) == 0  # training data as boardnet writes it
    run = d / "run"  # a tiny real run (two checkpoints) for `gauntlet`
    assert main(["train", str(d / "config.yaml"), *TINY_TRAIN, "train.iterations=2", "--run-dir", str(run)]) == 0
    tf = FIXTURES / "tf"
    return {
        "run": [run / "checkpoints" / "iter-000002.pt"],
        "nnue": [d / "kp.nnue"],
        "lc0-pb": [maia],
        "pt": [d / "maia.pt"],
        "pt-nnue": [d / "small.pt"],
        "safetensors": [d / "maia.safetensors"],
        "checkpoint": [d / "ckpt.pt"],
        "onnx": [FIXTURES / "lc0" / "maia-1300.leela2onnx.onnx", d / "maia.onnx"],
        "tf-index": [tf / "gomoku_tf1_8x8" / "model.ckpt.index"],
        "keras": [tf / "gomoku_keras_15x15" / "model.keras", tf / "gomoku_keras_15x15" / "model.weights.h5"],
        "azg-pickle": [FIXTURES / "azg" / "best_policy_6_6_4.model"],
        "npz": [FIXTURES / "azg" / "io_6_6_4.npz", d / "selfplay.npz"],
        "reference-npz": [FIXTURES / "lc0" / "maia-1300.reference.npz"],
        "bin": [d / "data.bin"],
        "binpack": [d / "data.binpack"],
        "plain": [d / "data.plain"],
        "pgn": [d / "games.pgn"],
        "v6-chunk": [d / "chunk.gz"],
        "config": [d / "config.yaml"],
        "mapping": [d / "mapping.yaml"],
    }


Job = Callable[[Path, Path], dict[str, Any]]


def _suffix(p: Path) -> str:
    return "".join(p.suffixes[-2:]) if p.name.endswith((".pb.gz", ".weights.h5", ".nnue.gz")) else p.suffix


# reader class -> (how to run one input file, output name or None, whether seeds are gzip files)
CLASSES: dict[str, tuple[Job, str | None, bool]] = {
    "nnue": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.pt", False),
    "lc0-pb": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.safetensors", True),
    "pt": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.pb.gz", False),
    "pt-nnue": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.nnue", False),
    "safetensors": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.pt", False),
    "checkpoint": (lambda f, o: {"argv": ["convert", str(f), str(o), "--net", "net", "--ema"], "output": str(o)},
                   "out.safetensors", False),
    "onnx": (lambda f, o: {"argv": ["inspect", str(f)]}, None, False),
    "tf-index": (lambda f, o: {"argv": ["inspect", str(f)]}, None, False),
    "keras": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.pt", False),
    "azg-pickle": (lambda f, o: {"argv": ["convert", str(f), str(o)], "output": str(o)}, "out.pt", False),
    "npz": (lambda f, o: {"call": "boardnet.train.npz:load_npz_arrays", "args": [str(f), None]}, None, False),
    "bin": (lambda f, o: {"argv": ["nnue", "data", str(f), str(o)], "output": str(o)}, "out.binpack", False),
    "binpack": (lambda f, o: {"argv": ["nnue", "data", str(f), str(o)], "output": str(o)}, "out.bin", False),
    "plain": (lambda f, o: {"argv": ["nnue", "data", str(f), str(o)], "output": str(o)}, "out.binpack", False),
    "pgn": (lambda f, o: {"argv": ["lc0", "pgn2chunks", str(f), str(o)], "output": str(o)}, "chunks", False),
    "v6-chunk": (lambda f, o: {"call": "boardnet.lc0.chunks:read_chunk", "args": [str(f)]}, None, True),
    "config": (lambda f, o: {"argv": ["config", "show", str(f)]}, None, False),
    "mapping": (lambda f, o: {"call": "boardnet.tfimport.mapping:load_mapping", "args": [str(f)]}, None, False),
}


def _bombs(cls: str, seed: Path, d: Path) -> list[tuple[str, Path]]:
    """Crafted declared-size bombs for the formats whose headers declare sizes."""
    out: list[tuple[str, Path]] = []
    if cls == "lc0-pb":
        from boardnet.lc0.weights import _load_proto

        for name, edit in (("200k-blocks", lambda n: [n.weights.residual.add() for _ in range(200_000)]),
                           ("1M-filters", lambda n: setattr(n.weights.input.bn_means, "params", b"\0\0" * 1_000_000)),
                           ("huge-se", lambda n: [setattr(r.se.b1, "params", b"\0\0" * 8000)
                                                  for r in n.weights.residual])):
            net = _load_proto(seed)
            edit(net)
            p = d / f"bomb-{name}.pb.gz"
            p.write_bytes(gzip.compress(net.SerializeToString(), compresslevel=1))
            out.append((name, p))
    if cls == "pt":
        import torch

        from boardnet.core.io import write_pt
        from boardnet.core.spec import ModelSpec, NetFile

        p = d / "bomb-100k-blocks.pt"
        write_pt(NetFile(ModelSpec("lc0", {"blocks": 100_000, "filters": 64}), {"x": torch.zeros(1)}), p)
        out.append(("100k-blocks", p))
    if cls == "npz":
        p = d / "bomb-2^40.npz"
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("states.npy", npy_header(1 << 40) + bytes(16))  # declares 4 TiB, holds 16 bytes
        out.append(("shape-2^40", p))
        p = d / "zeros.npz"
        write_zero_npz(p, (1 << 30) if LONG else (96 << 20))
        out.append(("honest-zeros-bomb", p))
    if cls == "keras":
        p = d / "external.weights.h5"
        if _external_h5(seed, p):
            out.append(("hdf5-external-storage", p))
        if LONG and seed.name == "model.weights.h5":  # spins libhdf5 until its 20 s limit: the long run only
            data = bytearray(seed.read_bytes())
            data[2369:2377] = (8).to_bytes(8, "little")  # see tests/tfimport/test_keras.py
            p = d / "spin.weights.h5"
            p.write_bytes(bytes(data))
            out.append(("hdf5-infinite-loop", p))
    if cls == "config":
        p = d / "laughs.yaml"
        lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
        lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
        p.write_text("\n".join(lines) + "\n")
        out.append(("billion-laughs", p))
    return out


def _external_h5(seed: Path, out: Path) -> bool:
    """A copy of a Keras weights file whose first dataset reads /etc/passwd through HDF5 external storage."""
    try:
        import h5py
    except ImportError:
        return False
    if not seed.name.endswith(".weights.h5"):
        return False
    shutil.copy(seed, out)
    out.chmod(0o644)
    with h5py.File(out, "r+") as f:
        names: list[str] = []
        f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
        name = names[0]
        shape, dtype = f[name].shape, f[name].dtype
        del f[name]
        size = int(np.prod(shape)) * dtype.itemsize
        f.create_dataset(name, shape=shape, dtype=dtype, external=[("/etc/passwd", 0, size)])
    return True


def _clear(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _place_special(kind: str, path: Path) -> None:
    """Put a FIFO, a symlink to /dev/zero, a directory, an empty file or nothing where an input file goes."""
    _clear(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")


def _prepare_output(out: Path | None, fresh: bool = False) -> None:
    """An old output a failure must leave alone (a file, or a folder of chunks); ``fresh``: no output at all."""
    if out is None:
        return
    _clear(out)
    if fresh:
        return
    if out.suffix:
        out.write_bytes(OLD)
    else:  # pgn2chunks' folder: chunks of an earlier run
        out.mkdir()
        (out / "old-000001.gz").write_bytes(OLD)


@pytest.fixture(scope="module")
def server(seeds: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = FuzzServer(ROOT)
    d = tmp_path_factory.mktemp("warm")  # never beside a seed: most seeds are shared fixtures
    warm = []
    for cls, (job, out_name, _) in CLASSES.items():
        for i, seed in enumerate(seeds[cls]):
            warm.append(job(seed, d / f"{cls}-{i}-{out_name or 'unused'}"))
    for verb, (refs, job, out_name, _) in VERBS.items():
        cls, i = refs[0]
        warm.append(job(_verb_path(verb, seeds[cls][i]), d / f"{verb}-{out_name or 'unused'}"))
    srv.ask({"warm": warm})
    yield srv
    srv.close()


def _fuzz(name: str, seed_files: list[Path], job: Job, out: Path | None, n: int, server: Any, d: Path,
          bombs: list[tuple[str, Path]] = (), target_of: Callable[[Path], Path] | None = None,
          path_of: Callable[[Path], Path] = lambda p: p, fresh: bool = False) -> None:
    """Run the specials, ``bombs`` and ``n`` mutations of ``seed_files`` through ``job``; assert no finding.

    ``target_of(seed)``: where a mutated input is written (default ``d/input<suffix>``); ``path_of(target)``:
    the path the command is given (a run directory for a mutated checkpoint inside it)."""
    rng = random.Random(f"{name}-{n}")
    counts: Counter[str] = Counter()
    findings: list[str] = []

    def target(seed: Path) -> Path:
        return target_of(seed) if target_of else d / f"input{_suffix(seed)}"

    def run(kind: str, path: Path) -> None:
        _prepare_output(out, fresh)
        reply = server.ask({**job(path, out if out else d / "unused"), "timeout": TIMEOUT})
        counts[reply["status"]] += 1
        counts["inputs"] += 1
        if reply["status"] != "ok":
            findings.append(f"{kind}: {reply['status']}: {reply.get('detail', '')[:300]}")
        if out is not None and out.is_dir() and not fresh:
            assert not [p for p in d.iterdir() if p.name.startswith(f".{out.name}.")], kind

    for seed in seed_files:  # control: each unmutated seed must succeed, or the job tests nothing
        _clear(target(seed))
        target(seed).write_bytes(seed.read_bytes())
        _prepare_output(out, fresh)
        reply = server.ask({**job(path_of(target(seed)), out if out else d / "unused"), "timeout": TIMEOUT})
        assert reply.get("code") == 0 and reply["status"] == "ok", f"{name}: {seed.name} itself fails: {reply}"
    for kind in SPECIALS:
        _place_special(kind, target(seed_files[0]))
        run(kind, path_of(target(seed_files[0])))
    for kind, path in bombs:
        run(kind, path)
    for i in range(n):
        seed = seed_files[i % len(seed_files)]
        kind, mutated = (mutate_gzip_payload if seed.name.endswith(".gz") else mutate)(seed.read_bytes(), rng)
        _clear(target(seed))
        target(seed).write_bytes(mutated)
        run(f"{kind} of {seed.name} #{i}", path_of(target(seed)))
    report = os.environ.get("BOARDNET_FUZZ_REPORT")
    if report:
        with open(report, "a") as fh:
            fh.write(json.dumps({"class": name, **counts, "findings": findings[:20]}) + "\n")
    assert not findings, f"{name}: {len(findings)} of {counts['inputs']} inputs failed:\n" + "\n".join(findings[:15])


@pytest.mark.slow
@pytest.mark.parametrize("cls", list(CLASSES))
def test_fuzz_reader(cls: str, seeds: dict[str, list[Path]], server: Any,
                     tmp_path_factory: pytest.TempPathFactory) -> None:
    """``N`` mutations per reader class (10,000 with ``BOARDNET_FUZZ=long``)."""
    job, out_name, _ = CLASSES[cls]
    d = tmp_path_factory.mktemp(f"fuzz-{cls}")
    bombs = [b for seed in seeds[cls] for b in _bombs(cls, seed, d)]
    _fuzz(cls, seeds[cls], job, d / out_name if out_name else None, N, server, d, bombs)


# ---------------------------------------------------------------------------------- file-taking verbs

MAIA = FIXTURES / "lc0" / "maia-1300.pb.gz"
UCI_SESSION = "uci\nisready\nposition startpos moves e2e4\ngo nodes 2\nquit\n"
PBRAIN_SESSION = "START 6\nBEGIN\nEND\n"


def _verb_path(verb: str, seed: Path) -> Path:
    """What the verb is given for an input file: gauntlet takes the run directory of the checkpoint."""
    return seed.parent.parent if verb == "gauntlet" else seed


# verb -> (seeds as (reader class, index), how to run one input, output name or None, output fresh)
VERBS: dict[str, tuple[list[tuple[str, int]], Job, str | None, bool]] = {
    "inspect": ([("nnue", 0), ("lc0-pb", 0), ("pt", 0), ("pt-nnue", 0), ("safetensors", 0), ("run", 0),
                 ("keras", 1), ("azg-pickle", 0), ("bin", 0), ("binpack", 0), ("plain", 0)],
                lambda f, o: {"argv": ["inspect", str(f)]}, None, False),
    "verify-net": ([("lc0-pb", 0)], lambda f, o: {"argv": ["verify", str(f), str(FIXTURES / "lc0" /
                                                                                "maia-1300.reference.npz")]},
                   None, False),
    "verify-reference": ([("reference-npz", 0)], lambda f, o: {"argv": ["verify", str(MAIA), str(f)]}, None, False),
    "nnue-eval": ([("nnue", 0)], lambda f, o: {"argv": ["nnue", "eval", str(f), FEN]}, None, False),
    "lc0-eval": ([("lc0-pb", 0), ("onnx", 0)], lambda f, o: {"argv": ["lc0", "eval", str(f), "--fen", FEN]},
                 None, False),
    "uci": ([("pt", 0)], lambda f, o: {"argv": ["uci", str(f), "--backend", "torch"], "stdin": UCI_SESSION},
            None, False),
    "play": ([("azg-pickle", 0)], lambda f, o: {"argv": ["play", str(f), "--playouts", "2"]}, None, False),
    "pbrain": ([("azg-pickle", 0)], lambda f, o: {"argv": ["pbrain", str(f), "--playouts", "2"],
                                                  "stdin": PBRAIN_SESSION}, None, False),
    "selfplay": ([("azg-pickle", 0)], lambda f, o: {"argv": ["selfplay", str(f), "--games", "1", "--playouts", "2",
                                                             "--no-progress", "--out", str(o)], "output": str(o)},
                 "out.npz", False),
    "arena": ([("azg-pickle", 0)], lambda f, o: {"argv": ["arena", str(f), "pure:2", "--games", "2", "--playouts",
                                                          "2", "--no-progress"]}, None, False),
    "train": ([("config", 0)], lambda f, o: {"argv": ["train", str(f), *TINY_TRAIN, "train.iterations=1",
                                                      "--run-dir", str(o)], "output": str(o)}, "run", True),
    "gauntlet": ([("run", 0)], lambda f, o: {"argv": ["gauntlet", str(f), "--games", "2", "--playouts", "2"],
                                             "output": str(f / "gauntlet.csv")}, None, False),
    "nnue-label": ([("pgn", 0)], lambda f, o: {"argv": ["nnue", "label", str(f), "--out", str(o), "--depth", "1",
                                                        "--limit", "20", "--engine", stockfish_binary(),
                                                        "--no-progress"], "output": str(o)}, "out.bin", False),
}


@pytest.mark.slow
@pytest.mark.parametrize("verb", list(VERBS))
def test_fuzz_verb(verb: str, seeds: dict[str, list[Path]], server: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every file-taking verb beyond the readers' own: ``VERB_N`` mutations (1,000 with ``BOARDNET_FUZZ=long``)."""
    refs, job, out_name, fresh = VERBS[verb]
    d = tmp_path_factory.mktemp(f"verb-{verb}")
    files = [seeds[cls][i] for cls, i in refs]
    target_of, path_of = None, (lambda p: p)
    if verb == "gauntlet":  # the mutated checkpoint sits in a copy of the run, in place of the newest one
        run = d / "run"
        shutil.copytree(files[0].parent.parent, run)
        target_of = lambda seed: run / "checkpoints" / seed.name  # noqa: E731
        path_of = lambda target: target.parent.parent  # noqa: E731
    _fuzz(verb, files, job, d / out_name if out_name else None, VERB_N, server, d, target_of=target_of,
          path_of=path_of, fresh=fresh)
