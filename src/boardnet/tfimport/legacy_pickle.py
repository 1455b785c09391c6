"""AlphaZero_Gomoku legacy ``.model`` files: Python-2 pickles of a list of Theano/Lasagne numpy arrays.

Read with a restricted unpickler that can build numpy arrays and nothing else (alphazero.md §7): any other
global (``os.system``, ``builtins.eval``...) is refused before it is called. Theano convolves with flipped
kernels, so every 4-d kernel is flipped on both spatial axes to become a PyTorch cross-correlation kernel.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import numpy as np

from boardnet.core.errors import FormatError

_MAX_FILE = 1 << 30
# The only globals a pickled list of numpy arrays needs (numpy 1.x and 2.x module names).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler whose find_class resolves only the numpy array constructors above."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return super().find_class(module, name)


def read_arrays(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """The pickled list of float arrays, unchanged (Theano layouts)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > _MAX_FILE:
            raise FormatError(p, f"{size} bytes is too large for an AZG model")
        data = p.read_bytes()
    except OSError as e:
        raise FormatError(p, f"cannot read: {e.strerror}") from None
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure of untrusted data is one FormatError
        raise FormatError(p, f"not a numpy-array pickle: {type(e).__name__}: {e}") from None
    if not isinstance(obj, list | tuple) or not all(isinstance(a, np.ndarray) for a in obj):
        raise FormatError(p, f"expected a list of numpy arrays, got {type(obj).__name__}")
    for i, a in enumerate(obj):
        if a.dtype.kind != "f":
            raise FormatError(p, f"array {i} has dtype {a.dtype}", field=f"p{i}")
    return list(obj)


def read_variables(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """``{"p0": ..., "p15": ...}`` with conv kernels flipped to cross-correlation (still OIHW)."""
    out = {}
    for i, a in enumerate(read_arrays(path)):
        a = np.asarray(a, dtype=np.float32)
        out[f"p{i}"] = a[:, :, ::-1, ::-1].copy() if a.ndim == 4 else a
    return out


def read_net(path: str | os.PathLike[str], mapping: str | None = None,
             model: str | None = None):  # noqa: ANN201 - NetFile
    """Legacy pickle -> NetFile (built-in mapping ``azg_theano`` unless ``mapping`` is given)."""
    from boardnet.tfimport.mapping import load_mapping, to_netfile

    m = load_mapping(mapping or "azg_theano")
    return to_netfile(read_variables(path), m, model)


def inspect_file(path: str | os.PathLike[str]) -> str:
    """One line per pickled array: index, shape, dtype."""
    arrs = read_arrays(path)
    return "\n".join([f"AlphaZero_Gomoku pickle {path}: {len(arrs)} arrays"]
                     + [f"p{i} [{','.join(map(str, a.shape))}] {a.dtype}" for i, a in enumerate(arrs)])
