"""AlphaZero_Gomoku legacy ``.model`` files: Python-2 pickles of a list of Theano/Lasagne numpy arrays.

Read with a restricted unpickler that can build numpy arrays and nothing else (alphazero.md §7): any other
global (``os.system``, ``builtins.eval``...) is refused before it is called. Theano convolves with flipped
kernels, so every 4-d kernel is flipped on both spatial axes to become a PyTorch cross-correlation kernel.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from boardnet.core.errors import FormatError, first_line

_MAX_FILE = 1 << 30
# The only globals a pickled list of numpy arrays needs (numpy 1.x and 2.x module names).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle._Unpickler):  # noqa: SLF001 - the pure-Python unpickler, see below
    """Unpickler whose find_class resolves only the numpy array constructors above, each bounded.

    It is the pure-Python unpickler: its memo is a dict, where the C one grows an array to the largest memo
    index a (damaged) pickle names, allocating gigabytes for a ``LONG_BINPUT 2**31``. Its one opcode that
    allocates a declared length before reading it (``BYTEARRAY8``) is bounded by the file's size.

    ``_reconstruct`` and ``ndarray`` allocate the shape they are given; every array they may create is
    bounded by the ``budget`` of bytes the pickle really holds (an array's data is stored in the file), so a
    few hundred bytes cannot claim gigabytes. ``dtype`` is limited to plain scalar types (no subarray
    dtypes, whose item size is itself a shape).
    """

    def _load_bytearray8(self) -> None:
        """Protocol 5's BYTEARRAY8 allocates its declared length before reading: bound it by the file first."""
        (length,) = struct.unpack("<Q", self.read(8))
        if length > self.budget:
            raise pickle.UnpicklingError(f"BYTEARRAY8 of {length:,} bytes in a file of {self.budget:,} bytes")
        data = self.read(length)
        if len(data) != length:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(bytearray(data))

    dispatch = {**pickle._Unpickler.dispatch, pickle.BYTEARRAY8[0]: _load_bytearray8}  # noqa: SLF001

    def __init__(self, file: io.BytesIO, budget: int, **kwargs: str) -> None:
        super().__init__(file, **kwargs)
        self.budget = budget
        self._ndarray = self._bounded(np.ndarray, "ndarray")  # what the pickle gets for numpy.ndarray

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        real = super().find_class(module, name)
        if name == "dtype":
            return _plain_dtype
        if name == "ndarray":
            return self._ndarray
        if name == "_reconstruct":
            return self._bounded(real, name)
        return real

    def _bounded(self, real: object, name: str) -> object:
        def build(*args: object) -> object:
            shape, dtype = (args[1], args[2]) if name == "_reconstruct" else (args[0], args[1] if len(args) > 1 else "f8")
            if name == "_reconstruct":
                if args[0] is not self._ndarray:
                    raise pickle.UnpicklingError("_reconstruct of something other than numpy.ndarray")
                args = (np.ndarray, *args[1:])
            dims = (shape,) if isinstance(shape, int) else shape
            if not isinstance(dims, tuple | list) or not all(isinstance(d, int) and d >= 0 for d in dims):
                raise pickle.UnpicklingError(f"bad array shape {shape!r}")
            itemsize = _plain_dtype(dtype).itemsize if isinstance(dtype, str | bytes) else 8
            nbytes = math.prod(dims) * itemsize
            if nbytes > self.budget:
                raise pickle.UnpicklingError(f"an array of shape {list(dims)} ({nbytes:,} bytes) in a file of "
                                             f"{self.budget:,} bytes")
            return real(*args)  # type: ignore[operator]

        return build


def _plain_dtype(spec: object, *args: object) -> np.dtype:
    """``numpy.dtype`` limited to scalar numeric types (a subarray dtype would hide a shape in its item size)."""
    if isinstance(spec, bytes):
        spec = spec.decode("latin1")
    if not isinstance(spec, str):
        raise pickle.UnpicklingError(f"dtype from {type(spec).__name__} refused")
    dt = np.dtype(spec, bool(args[0])) if args else np.dtype(spec)  # (align, copy): align at most
    if dt.subdtype is not None or dt.fields is not None or dt.itemsize > 16:
        raise pickle.UnpicklingError(f"dtype {spec!r} refused (plain scalar types only)")
    return dt


def read_arrays(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """The pickled list of float arrays, unchanged (Theano layouts)."""
    from boardnet.core.io import read_user_bytes

    p = Path(path)
    data = read_user_bytes(p, limit=_MAX_FILE)
    try:
        obj = _NumpyOnlyUnpickler(io.BytesIO(data), len(data), encoding="latin1").load()
    except Exception as e:  # noqa: BLE001 - any unpickling failure of untrusted data is one FormatError
        detail = type(e).__name__ + (f": {first_line(e)}" if str(e).strip() else "")
        raise FormatError(p, f"not a numpy-array pickle: {detail}") from None
    if not isinstance(obj, list | tuple) or not all(isinstance(a, np.ndarray) for a in obj):
        raise FormatError(p, f"expected a list of numpy arrays, got {type(obj).__name__}")
    total = sum(a.nbytes for a in obj)
    if total > len(data):
        raise FormatError(p, f"arrays of {total:,} bytes in a file of {len(data):,} bytes")
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
