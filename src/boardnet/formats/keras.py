"""Keras 3 weights: ``.weights.h5`` (h5py) and ``.keras`` (zip holding ``model.weights.h5``).

Variables are h5 datasets ``layers/<layer>/vars/<i>`` (kernel then bias); names become
``layers/<layer>/vars/<i>`` and go through boardnet.mapping (built-in ``azg_keras_h5`` by default).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

from boardnet.errors import ConversionError, FormatError

_MAX_BYTES = 4 << 30  # refuse absurd dataset sizes before allocating


def _h5_variables(fileobj: object, path: Path) -> dict[str, np.ndarray]:
    """All float datasets under ``layers/`` as numpy arrays, keyed by their h5 path."""
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(fileobj, "r") as f:
            if "layers" not in f:
                raise FormatError(path, "no 'layers' group: not a Keras 3 weights file", field="layers")

            def visit(name: str, obj: object) -> None:
                if isinstance(obj, h5py.Dataset):
                    if obj.dtype.kind != "f" or obj.size * obj.dtype.itemsize > _MAX_BYTES:
                        raise FormatError(path, f"unexpected dataset dtype {obj.dtype} / size {obj.shape}",
                                          field=f"layers/{name}")
                    out[f"layers/{name}"] = np.asarray(obj[()], dtype=np.float32)

            f["layers"].visititems(visit)
    except (OSError, KeyError, ValueError) as e:
        raise FormatError(path, f"unreadable HDF5: {e}") from None
    return out


def read_variables(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``.keras`` or ``.weights.h5`` -> {h5 path: array} (kernels in Keras layout, HWIO / [in,out])."""
    p = Path(path)
    if p.suffix == ".keras":
        try:
            with zipfile.ZipFile(p) as z:
                info = z.getinfo("model.weights.h5")
                if info.file_size > _MAX_BYTES:
                    raise FormatError(p, f"model.weights.h5 of {info.file_size} bytes", field="model.weights.h5")
                data = z.read(info)
        except (zipfile.BadZipFile, KeyError, OSError) as e:
            raise FormatError(p, f"not a .keras archive with model.weights.h5: {e}") from None
        return _h5_variables(io.BytesIO(data), p)
    if not p.exists():
        raise FormatError(p, "file not found")
    return _h5_variables(str(p), p)


def read_net(path: str | os.PathLike[str], mapping: str | None = None,
             model: str | None = None):  # noqa: ANN201 - NetFile
    """Keras file -> NetFile via ``mapping`` (file or built-in name; default: the built-in that fits)."""
    from boardnet.mapping import builtin_for, load_mapping, to_netfile

    variables = read_variables(path)
    m = load_mapping(mapping) if mapping else builtin_for(set(variables))
    if m is None:
        raise ConversionError(f"{path}: no built-in mapping fits these variables; pass --mapping FILE.yaml")
    return to_netfile(variables, m, model)


def inspect_file(path: str | os.PathLike[str]) -> str:
    """One line per weight: ``h5path [shape]``."""
    v = read_variables(path)
    lines = [f"Keras weights {path}: {len(v)} arrays"]
    lines += [f"{k} [{','.join(map(str, a.shape))}] float32" for k, a in v.items()]
    return "\n".join(lines)
