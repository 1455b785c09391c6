"""Keras 3 weights: ``.weights.h5`` (h5py) and ``.keras`` (zip: ``config.json`` + ``model.weights.h5``).

Keras 3 stores a layer's variables as h5 datasets ``layers/<group>/vars/<i>`` where ``<group>`` is
positional: the snake-case class name plus a per-class counter in the model's layer order (``conv2d``,
``conv2d_1``, ..., ``dense``, ``dense_1``; tf-conversion.md §2.2), not the user's layer name. Readable names
``<layer name>/<variable>`` (e.g. ``evaluation_conv/kernel``, the same names a TF2 checkpoint's object graph
gives) are recovered as follows:

- ``.keras``: the layer list of ``config.json`` gives every layer's class and name in model order; counting
  per class reproduces the group names. The ``name`` attribute of each ``vars`` group must agree.
- ``.weights.h5`` (no config): the ``name`` attribute Keras 3 writes on ``layers/<group>/vars`` names the
  layer; the class comes from the group name (``conv2d_3`` -> ``conv2d``). Same-class layers keep their model
  order (the counter); the order *between* classes is not recorded in the file, so groups are listed sorted
  by name. A group without the attribute keeps its group name.

Variable names by position: Conv*/Dense ``kernel``, ``bias`` (no bias when ``use_bias`` is false);
BatchNormalization ``gamma``, ``beta`` (when ``scale``/``center``), ``moving_mean``, ``moving_variance``;
LayerNormalization ``gamma``, ``beta``; Embedding ``embeddings``. Other classes, or a count that does not
fit, keep the index (``layer/0``).

Hostile files: the HDF5 data is read in a forked child process, killed after :func:`h5_time_limit` seconds
(libhdf5 can loop forever inside C on damaged bytes; a crash of the child is one error too). The child refuses
external storage, virtual datasets, external and soft links, and datasets declaring more than 1024x the bytes
stored for them, before reading any data.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import select
import signal
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from boardnet.core.errors import FormatError, first_line

_MAX_BYTES = 4 << 30  # refuse absurd dataset sizes before allocating
_MAX_CONFIG_BYTES = 64 << 20
_KERNEL_BIAS = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
                "DepthwiseConv2D", "Dense")


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras model: h5 ``group`` (``conv2d_3``), ``name`` (``evaluation_conv``), ``class_name``."""

    group: str
    name: str
    class_name: str
    config: dict[str, Any]


def snake_case(class_name: str) -> str:
    """Keras' class-name -> auto-name rule: ``Conv2D`` -> ``conv2d``, ``BatchNormalization`` -> ``batch_normalization``."""
    s = re.sub(r"\W+", "", class_name)
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def variable_names(class_name: str, config: dict[str, Any], count: int) -> list[str]:
    """Names of a layer's ``count`` variables in h5 order (see module docstring); indices when unknown."""
    if class_name in _KERNEL_BIAS:
        names = ["kernel", "bias"] if config.get("use_bias", True) else ["kernel"]
    elif class_name == "BatchNormalization":
        names = (["gamma"] if config.get("scale", True) else []) + (["beta"] if config.get("center", True) else [])
        names += ["moving_mean", "moving_variance"]
    elif class_name == "LayerNormalization":
        names = (["gamma"] if config.get("scale", True) else []) + (["beta"] if config.get("center", True) else [])
    elif class_name == "Embedding":
        names = ["embeddings"]
    else:
        names = []
    return names if len(names) == count else [str(i) for i in range(count)]


def layers_from_config(config: dict[str, Any], path: Path) -> list[KerasLayer]:
    """``config.json`` -> layers in model order with their positional h5 group names."""
    try:
        entries = config["config"]["layers"]
        specs = [(str(e["class_name"]), str(e["config"]["name"]), dict(e["config"])) for e in entries]
    except (KeyError, TypeError) as e:
        raise FormatError(path, f"config.json has no layers list with class_name/config.name ({e})",
                          field="config.json") from None
    counts: dict[str, int] = {}
    out = []
    for class_name, name, cfg in specs:
        base = snake_case(class_name)
        n = counts.get(base, 0)
        counts[base] = n + 1
        out.append(KerasLayer(base if n == 0 else f"{base}_{n}", name, class_name, cfg))
    return out


def _class_from_group(group: str) -> str:
    """``conv2d_3`` -> ``Conv2D`` for the classes whose variable names are known; else ``""``."""
    base = re.sub(r"_\d+$", "", group)
    known = {snake_case(c): c for c in (*_KERNEL_BIAS, "BatchNormalization", "LayerNormalization", "Embedding")}
    return known.get(base, "")


_MAX_EXPANSION = 1024  # a dataset may hold at most this many times the bytes stored for it (compression)


def _walk_h5(group: Any, path: Path, prefix: str = "") -> None:
    """Refuse external links, soft links leaving the file, external storage and virtual datasets anywhere."""
    import h5py

    for name in group:
        where = f"{prefix}{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise FormatError(path, f"external link to {link.filename}:{link.path} refused", field=where)
        if isinstance(link, h5py.SoftLink):
            raise FormatError(path, f"soft link to {link.path} refused", field=where)
        obj = group[name]
        if isinstance(obj, h5py.Group):
            _walk_h5(obj, path, where + "/")
        elif isinstance(obj, h5py.Dataset):
            _check_dataset(obj, path, where)


def _check_dataset(ds: Any, path: Path, where: str) -> None:
    """A dataset must live in this file and be bounded by the bytes stored for it (no size bombs)."""
    if ds.external:
        raise FormatError(path, "external storage refused (the data would come from another file)", field=where)
    if ds.is_virtual:
        raise FormatError(path, "virtual dataset refused (the data would come from other files)", field=where)
    if ds.dtype.kind != "f":
        return
    nbytes = int(np.prod(ds.shape, dtype=object)) * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    if nbytes > _MAX_BYTES or nbytes > stored * _MAX_EXPANSION:
        raise FormatError(path, f"dataset {list(ds.shape)} declares {nbytes:,} bytes but the file stores "
                          f"{stored:,} for it", field=where)


H5_TIME_BASE_S = 20.0  # the HDF5 read of one file may take this long, plus the next line's allowance ...
H5_TIME_PER_MB_S = 0.05  # ... per MB of HDF5 data (libhdf5 reads well above 20 MB/s, gzip included)


def h5_time_limit(nbytes: int) -> float:
    """Seconds allowed to read ``nbytes`` of HDF5 before it is refused as a damaged file (see :func:`_read_h5`)."""
    return H5_TIME_BASE_S + H5_TIME_PER_MB_S * nbytes / 1e6


def _read_h5(data: bytes, path: Path, timeout: float | None = None
             ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """:func:`_read_h5_here` in a forked child process, killed after ``timeout`` seconds
    (default :func:`h5_time_limit`): some damaged files make libhdf5 loop forever inside C, where no Python
    signal or exception can stop it, and some crash it. Either way the caller gets one FormatError.

    The child applies every check of :func:`_read_h5_here` (no external storage, virtual datasets or
    external links, sizes bounded by stored bytes) and hands the arrays back as an ``.npz`` in a private
    temp folder, with a JSON reply (layer names, or the error) on a pipe.
    """
    import h5py  # noqa: F401 - imported before the fork: each child has it at no cost

    limit = h5_time_limit(len(data)) if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="boardnet-h5-") as tmp:
        out = Path(tmp) / "arrays.npz"
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child never returns
            os.close(r)
            _h5_child(data, path, out, w, limit)
        os.close(w)
        try:
            reply = _await_child(pid, r, limit, path)
        finally:
            os.close(r)
        if "error" in reply:
            raise FormatError(path, reply["error"], field=reply.get("field"))
        with np.load(out, allow_pickle=False) as z:  # our own child's output
            flat = {key: z[key] for key in z.files}
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for n, (group, idx) in enumerate(reply["keys"]):
        arrays.setdefault(group, {})[idx] = flat[f"a{n}"]
    for group in reply["groups"]:
        arrays.setdefault(group, {})
    return arrays, reply["names"]


def _h5_child(data: bytes, path: Path, out: Path, w: int, limit: float) -> None:
    """In the forked child: read, save the arrays to ``out``, write the JSON reply to ``w``, exit."""
    reply: dict[str, Any]
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # dies by itself even if the parent is gone
        signal.alarm(int(limit) + 2)
        arrays, names = _read_h5_here(io.BytesIO(data), path)
        keys = [(g, i) for g, vs in arrays.items() for i in vs]
        np.savez(out, **{f"a{n}": arrays[g][i] for n, (g, i) in enumerate(keys)})
        reply = {"keys": keys, "groups": list(arrays), "names": names}
    except FormatError as err:
        reply = {"error": err.message, "field": err.field}
    except BaseException as err:  # noqa: BLE001 - reported to the parent as one error line
        reply = {"error": f"unreadable HDF5: {type(err).__name__}: {str(err)[:200]}"}
    try:
        payload = json.dumps(reply).encode()
        while payload:
            payload = payload[os.write(w, payload):]
    finally:
        os._exit(0)


def _await_child(pid: int, r: int, limit: float, path: Path) -> dict[str, Any]:
    """The child's JSON reply from pipe ``r``; the child is killed after ``limit`` seconds (and on any
    exception here, e.g. Ctrl-C) and always reaped."""
    deadline = time.monotonic() + limit
    chunks: list[bytes] = []
    done = False
    try:
        while True:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise FormatError(path, f"reading its HDF5 data took more than {limit:.3g} s; a damaged file can "
                                  "make libhdf5 loop forever, so it is refused")
            chunk = os.read(r, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        done = True
    finally:
        if not done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if not chunks:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.waitstatus_to_exitcode(status)}"
        raise FormatError(path, f"the HDF5 reader crashed on this file ({how}); it is damaged")
    return json.loads(b"".join(chunks))


def _read_h5_here(fileobj: object, path: Path) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """({group: {index: array}}, {group: name attribute}) for every layer group under ``layers/``."""
    import h5py

    arrays: dict[str, dict[str, np.ndarray]] = {}
    names: dict[str, str] = {}
    try:
        with h5py.File(fileobj, "r") as f:
            _walk_h5(f, path)
            if "layers" not in f or not isinstance(f["layers"], h5py.Group):
                raise FormatError(path, "no 'layers' group: not a Keras 3 weights file", field="layers")
            for group, g in f["layers"].items():
                vars_ = g.get("vars") if isinstance(g, h5py.Group) else None
                if not isinstance(vars_, h5py.Group):
                    raise FormatError(path, "layer group without a 'vars' group", field=f"layers/{group}")
                if "name" in vars_.attrs:
                    attr = vars_.attrs["name"]
                    names[group] = attr.decode() if isinstance(attr, bytes) else str(attr)
                arrays[group] = {}
                for idx, ds in vars_.items():
                    where = f"layers/{group}/vars/{idx}"
                    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind != "f":
                        raise FormatError(path, f"unexpected entry {getattr(ds, 'dtype', 'group')} "
                                          f"{getattr(ds, 'shape', '')}", field=where)
                    arrays[group][idx] = np.asarray(ds[()], dtype=np.float32)
    except FormatError:
        raise
    except Exception as e:  # noqa: BLE001 - h5py raises many types on corrupt files; each is one FormatError
        raise FormatError(path, f"unreadable HDF5: {first_line(e)}") from None
    for group, vs in arrays.items():
        if sorted(vs, key=lambda k: (len(k), k)) != [str(i) for i in range(len(vs))]:
            raise FormatError(path, f"variables {sorted(vs)} are not numbered 0..{len(vs) - 1}",
                              field=f"layers/{group}/vars")
    return arrays, names


def _open(path: str | os.PathLike[str]) -> tuple[bytes, dict[str, Any] | None, Path]:
    """(HDF5 bytes, parsed config.json or None, path) for a ``.keras`` or ``.weights.h5`` file.

    The file is read whole through :func:`~boardnet.core.io.read_user_bytes` (regular files only) and h5py
    reads them from memory (in a child process: :func:`_read_h5`).
    """
    from boardnet.core.io import read_user_bytes

    p = Path(path)
    raw = read_user_bytes(p, limit=_MAX_BYTES)
    if p.suffix != ".keras":
        return raw, None, p
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = {n: z.getinfo(n) for n in ("model.weights.h5", "config.json")}
            for n, info in infos.items():
                if info.file_size > (_MAX_BYTES if n.endswith(".h5") else _MAX_CONFIG_BYTES):
                    raise FormatError(p, f"{n} of {info.file_size} bytes", field=n)
            data = z.read(infos["model.weights.h5"])
            config = json.loads(z.read(infos["config.json"]))
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, NotImplementedError, ValueError) as e:
        if isinstance(e, json.JSONDecodeError):
            raise FormatError(p, f"config.json is not valid JSON: {e}", field="config.json") from None
        raise FormatError(p, f"not a .keras archive with model.weights.h5 and config.json: {e}") from None
    except (UnicodeDecodeError, RecursionError) as e:
        raise FormatError(p, f"config.json is not valid JSON: {e}", field="config.json") from None
    if not isinstance(config, dict):
        raise FormatError(p, "config.json is not an object", field="config.json")
    return data, config, p


def read_layers(path: str | os.PathLike[str], h5_timeout: float | None = None
                ) -> tuple[list[KerasLayer], dict[str, dict[str, np.ndarray]]]:
    """Layers (model order for ``.keras``; sorted by group for ``.weights.h5``) and their arrays by group.

    ``h5_timeout``: seconds the HDF5 read may take (default :func:`h5_time_limit` of its size).
    """
    data, config, p = _open(path)
    arrays, attr_names = _read_h5(data, p, h5_timeout)
    if config is None:
        layers = [KerasLayer(g, attr_names.get(g, g), _class_from_group(g), {}) for g in sorted(arrays)]
        return layers, arrays
    layers = layers_from_config(config, p)
    by_group = {la.group: la for la in layers}
    stray = sorted(set(arrays) - set(by_group))
    if stray:
        raise FormatError(p, f"weight groups {stray} have no layer in config.json", field="config.json")
    for g, attr in attr_names.items():
        if by_group[g].name != attr:
            raise FormatError(p, f"config.json puts layer {by_group[g].name!r} at group {g}, whose name "
                              f"attribute says {attr!r}", field=f"layers/{g}/vars")
    return [la for la in layers if la.group in arrays], arrays


def read_variables(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``.keras`` or ``.weights.h5`` -> {h5 path ``layers/<group>/vars/<i>``: array} (Keras layouts)."""
    return read_named(path)[0]


def readable_names(path: str | os.PathLike[str]) -> dict[str, str]:
    """h5 path -> ``<layer name>/<variable name>`` (e.g. ``layers/conv2d_3/vars/0`` -> ``evaluation_conv/kernel``)."""
    return read_named(path)[1]


def read_named(path: str | os.PathLike[str], h5_timeout: float | None = None
               ) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Both of the above from one read of the file: ``({h5 path: array}, {h5 path: layer/variable})``."""
    layers, arrays = read_layers(path, h5_timeout)
    variables, names = {}, {}
    for la in layers:
        group = arrays[la.group]
        for i, v in enumerate(variable_names(la.class_name, la.config, len(group))):
            key = f"layers/{la.group}/vars/{i}"
            variables[key], names[key] = group[str(i)], f"{la.name}/{v}"
    return variables, names


def read_net(path: str | os.PathLike[str], mapping: str | None = None,
             model: str | None = None):  # noqa: ANN201 - NetFile
    """Keras file -> NetFile via ``mapping`` (file or built-in name; default: the built-in that fits).

    The mapping's sources may be the h5 paths or the readable ``layer/variable`` names (tried in that order).
    """
    from boardnet.tfimport.mapping import select_mapping, to_netfile

    variables, m = select_mapping(*read_named(path), mapping, path)
    return to_netfile(variables, m, model)


def inspect_file(path: str | os.PathLike[str]) -> str:
    """One line per weight: ``h5path [shape] float32 = layer/variable``."""
    v, names = read_named(path)
    lines = [f"Keras weights {path}: {len(v)} arrays"]
    lines += [f"{k} [{','.join(map(str, a.shape))}] float32 = {names[k]}" for k, a in v.items()]
    return "\n".join(lines)
