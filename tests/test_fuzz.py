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

from tests.conftest import FIXTURES, ROOT
from tests.fuzzing import OLD, FuzzServer, mutate, mutate_gzip_payload, npy_header, write_zero_npz

LONG = os.environ.get("BOARDNET_FUZZ", "").lower() == "long"
N = int(os.environ.get("BOARDNET_FUZZ_N", "10000" if LONG else "10"))
TIMEOUT = int(os.environ.get("BOARDNET_FUZZ_TIMEOUT", "60"))
FEN = "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"


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
    tf = FIXTURES / "tf"
    return {
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
        "npz": [FIXTURES / "azg" / "io_6_6_4.npz", FIXTURES / "lc0" / "maia-1300.reference.npz"],
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


def _specials(d: Path, suffix: str) -> list[tuple[str, Path]]:
    fifo = d / f"fifo{suffix}"
    os.mkfifo(fifo)
    zero = d / f"zero{suffix}"
    zero.symlink_to("/dev/zero")
    folder = d / f"folder{suffix}"
    folder.mkdir()
    empty = d / f"empty{suffix}"
    empty.write_bytes(b"")
    return [("fifo", fifo), ("dev-zero", zero), ("directory", folder), ("empty", empty),
            ("missing", d / f"missing{suffix}")]


def _prepare_output(out: Path | None) -> None:
    if out is None:
        return
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    if out.suffix:  # a file: an old one that a failure must leave alone
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
    srv.ask({"warm": warm})
    yield srv
    srv.close()


@pytest.mark.slow
@pytest.mark.parametrize("cls", list(CLASSES))
def test_fuzz_reader(cls: str, seeds: dict[str, list[Path]], server: Any,
                     tmp_path_factory: pytest.TempPathFactory) -> None:
    job, out_name, gz = CLASSES[cls]
    d = tmp_path_factory.mktemp(f"fuzz-{cls}")
    out = d / out_name if out_name else None
    rng = random.Random(f"{cls}-{N}")
    suffix = _suffix(seeds[cls][0])
    inputs: list[tuple[str, Path]] = list(_specials(d, suffix))
    for seed in seeds[cls]:
        inputs += _bombs(cls, seed, d)
    counts: Counter[str] = Counter()
    findings: list[str] = []
    target = d / f"input{suffix}"

    def run(kind: str, path: Path) -> None:
        _prepare_output(out)
        reply = server.ask({**job(path, out if out else d / "unused"), "timeout": TIMEOUT})
        counts[reply["status"]] += 1
        counts["inputs"] += 1
        if reply["status"] != "ok":
            findings.append(f"{kind}: {reply['status']}: {reply.get('detail', '')[:300]}")
        if out is not None and out.is_dir():
            assert not [p for p in d.iterdir() if p.name.startswith(f".{out.name}.")], kind

    for kind, path in inputs:
        run(kind, path)
    for i in range(N):
        seed = seeds[cls][i % len(seeds[cls])]
        data = seed.read_bytes()
        kind, mutated = (mutate_gzip_payload if gz else mutate)(data, rng)
        if seed.name.endswith(".weights.h5") and suffix != ".weights.h5":
            target = d / "input.weights.h5"
        elif target.suffix != seed.suffix:
            target = d / f"input{_suffix(seed)}"
        target.write_bytes(mutated)
        run(f"{kind} of {seed.name} #{i}", target)
    report = os.environ.get("BOARDNET_FUZZ_REPORT")
    if report:
        with open(report, "a") as fh:
            fh.write(json.dumps({"class": cls, **counts, "findings": findings[:20]}) + "\n")
    assert not findings, f"{cls}: {len(findings)} of {counts['inputs']} inputs failed:\n" + "\n".join(findings[:15])
