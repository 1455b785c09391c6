"""boardnet's own network files: ``.safetensors`` and ``.pt``, each a :class:`NetFile` (spec + tensors).

- ``.safetensors``: tensors plus metadata ``{"boardnet.core.spec": <json ModelSpec>, "boardnet.core.sha256":
  <json {tensor: sha256}>}``.
- ``.pt``: ``{"format": "boardnet-net", "spec": {...}, "state_dict": {...}, "sha256": {tensor: sha256}}``; a
  training checkpoint (``{"format": "boardnet-checkpoint", "nets": {name: {"spec", "state_dict"}}, "checksum",
  ...}``) is read too, choosing the net named by ``net`` (default: the only one, else the first) and its EMA
  weights with ``ema=True``.

Checksums (:mod:`boardnet.core.checksum`) are written on export and verified on load; a file without them
(foreign, or older) is read unchecked.

Loading never unpickles code: ``torch.load(..., weights_only=True)`` only.

User paths: every reader opens a path a user named through :func:`open_user_file` (or
:func:`check_user_file` when a library insists on a path): regular files only (a FIFO, a directory or a
device is refused without blocking on it), and OS errors become one :class:`FormatError`
(``PATH: permission denied`` / ``is a directory`` / ``no such file``).
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import pickle
import shutil
import signal
import stat
import struct
import threading
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from boardnet.core.checksum import tensor_checksums, verify_checksums, verify_payload
from boardnet.core.errors import FormatError, first_line
from boardnet.core.spec import ModelSpec, NetFile

SPEC_KEY = "boardnet.core.spec"
SHA256_KEY = "boardnet.core.sha256"

# ------------------------------------------------------------------------------------------- user paths

_OS_ERRORS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "no such file (a parent is not a directory)",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENOSPC: "no space left on device",
    errno.EROFS: "read-only file system",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "file name too long",
    errno.EFBIG: "file too large",
}


def os_error_message(err: OSError) -> str:
    """A short, stable description of an OS error (``permission denied``, ``no such file`` ...)."""
    return _OS_ERRORS.get(err.errno or 0) or (err.strerror or type(err).__name__).lower()


def _kind_problem(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is refused as input, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def check_user_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`Path` if it names a readable regular file (symlinks followed); else FormatError.

    For libraries that only take a path (h5py, safetensors): nothing is opened, so a FIFO never blocks.
    """
    try:
        st = os.stat(path)
    except OSError as err:
        raise FormatError(path, os_error_message(err)) from None
    problem = _kind_problem(st.st_mode)
    if problem:
        raise FormatError(path, problem)
    if not os.access(path, os.R_OK):
        raise FormatError(path, "permission denied")
    return Path(path)


def open_user_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a user-named file for binary reading: regular files only, OS errors as one FormatError.

    The file is opened non-blocking and checked with ``fstat`` before anything is read, so a FIFO (or a
    symlink to ``/dev/zero``) is refused instead of hanging or streaming forever.
    """
    check_user_file(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise FormatError(path, os_error_message(err)) from None
    try:
        problem = _kind_problem(os.fstat(fd).st_mode)  # the path may have changed since check_user_file
        if problem:
            raise FormatError(path, problem)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return _CappedReader(io.FileIO(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise


class _CappedReader(io.BufferedReader):
    """A buffered binary file whose ``read(n)`` never asks for more than the bytes left in the file.

    ``BufferedReader.read(n)`` allocates ``n`` bytes before reading, so a damaged length field that a parser
    hands to ``read`` (a pickle string "of 2.7 GB" in a 6-byte file) would allocate gigabytes first.
    """

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            left = os.fstat(self.fileno()).st_size - self.tell()
            size = min(size, max(left, 0))
            if size == 0:
                return b""
        return super().read(size)


def read_user_bytes(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of a user-named regular file (see :func:`open_user_file`); ``limit`` caps the size."""
    with open_user_file(path) as fh:
        if limit is not None:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise FormatError(path, f"{size:,} bytes; more than the {limit:,} this reader takes")
        try:
            return fh.read()
        except OSError as err:
            raise FormatError(path, f"read failed: {os_error_message(err)}") from None


def read_user_text(path: str | os.PathLike[str], limit: int | None = None) -> str:
    """A user-named file as UTF-8 text; bytes that are not UTF-8 are one FormatError naming the offset."""
    data = read_user_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FormatError(path, f"not UTF-8 text (byte 0x{data[err.start]:02x})", offset=err.start) from None


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    return {"family": spec.family, "config": spec.config, "meta": spec.meta}


def spec_from_dict(data: Any, path: str | os.PathLike[str], field: str = "spec") -> ModelSpec:
    """A :class:`ModelSpec` from its stored form; anything but ``{family, config, meta}`` is one FormatError."""
    if not isinstance(data, dict) or not isinstance(data.get("family"), str):
        raise FormatError(path, "no boardnet model spec (family, config)", field=field)
    unknown = sorted(str(k) for k in data if k not in ("family", "config", "meta"))
    if unknown:
        raise FormatError(path, f"unknown key '{unknown[0]}' (a spec has family, config, meta)", field=field)
    for key in ("config", "meta"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise FormatError(path, f"must be a mapping, got {type(data[key]).__name__}", field=f"{field}.{key}")
    return ModelSpec(data["family"], dict(data.get("config") or {}), dict(data.get("meta") or {}))


def checked_netfile(spec: ModelSpec, state_dict: dict[str, torch.Tensor], path: str | os.PathLike[str],
                    field: str) -> NetFile:
    """A NetFile whose spec names a known family with valid options and whose tensors are exactly its
    network's (names and shapes, compared on the meta device: nothing of the declared size is allocated).

    A quantized net (``meta.quantized``, e.g. an ``.nnue`` file's integers kept in a ``.pt``) is not built
    by its constructor: its family is checked, and its tensors by that format's writer.
    """
    from boardnet.core import registry
    from boardnet.core.build import check_state_dict
    from boardnet.core.errors import ConfigError

    if spec.meta.get("quantized"):  # a file format's integer tensors (e.g. .nnue): its writer walks their layout
        return NetFile(spec, state_dict)
    try:
        if spec.meta.get("quantized"):
            registry.NETWORKS.get(spec.family, f"{field}.family")
            return NetFile(spec, state_dict)
        check_state_dict(spec, state_dict, field)
    except ConfigError as err:
        raise FormatError(path, err.message, field=err.key_path) from None
    return NetFile(spec, state_dict)


# ------------------------------------------------------------------------------------------------ writing

_LIVE_TEMPS: set[Path] = set()  # temp files (and folders) of atomic writes in progress, removed on SIGTERM/SIGHUP
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))
_saved_handlers: dict[int, Any] = {}
_lock = threading.Lock()


def _remove_temps_and_die(signum: int, frame: Any) -> None:
    """Signal handler: remove the temp files of writes in progress, then die of the signal as before."""
    for tmp in list(_LIVE_TEMPS):
        with suppress(OSError):
            if tmp.is_dir() and not tmp.is_symlink():
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
    _LIVE_TEMPS.clear()
    previous = _saved_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextmanager
def _temp_registered(tmp: Path) -> Iterator[None]:
    """Register ``tmp`` for removal on SIGTERM/SIGHUP (SIGINT raises KeyboardInterrupt: ``finally`` does it)."""
    main = threading.current_thread() is threading.main_thread()
    with _lock:
        if main and not _LIVE_TEMPS:
            for sig in _SIGNALS:
                current = signal.getsignal(sig)
                if current in (signal.SIG_IGN, None):
                    continue
                _saved_handlers[sig] = current
                signal.signal(sig, _remove_temps_and_die)
        _LIVE_TEMPS.add(tmp)
    try:
        yield
    finally:
        with _lock:
            _LIVE_TEMPS.discard(tmp)
            if main and not _LIVE_TEMPS:
                for sig, handler in _saved_handlers.items():
                    signal.signal(sig, handler)
                _saved_handlers.clear()


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Refuse an output path that is a directory or not a regular file, before anything is computed."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        return p
    except OSError as err:
        raise FormatError(p, f"cannot write: {os_error_message(err)}") from None
    if stat.S_ISDIR(mode):
        raise FormatError(p, "is a directory; name an output file")
    if not stat.S_ISREG(mode):
        raise FormatError(p, "exists and is not a regular file; refusing to replace it")
    return p


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(tmp_path)``, fsync, then rename over ``path``: readers never see a half file.

    The temp file ``.NAME.tmpPID`` sits beside ``path``; it is removed on any failure and on SIGTERM,
    SIGHUP and SIGINT. An OS error (unwritable folder, full disk, ``path`` a directory) is one FormatError.
    """
    path = check_output_path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _temp_registered(tmp):
            try:
                write(tmp)
                os.chmod(tmp, 0o666 & ~current_umask())  # as open() would: some writers create 0600 files
                with open(tmp, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as err:
        raise FormatError(path, f"cannot write: {os_error_message(err)}") from None
    except (RuntimeError, SafetensorError) as err:  # torch.save / safetensors wrap the OS error of a write
        text = str(err).lower()
        if not any(w in text for w in ("writ", "inline_container", "space", "too large", "quota")):
            raise
        raise FormatError(path, "cannot write (disk full or file size limit?): "
                          f"{str(err).strip().splitlines()[-1][:160]}") from None


T = TypeVar("T")
FSYNC_THREADS = 16  # concurrent fsyncs: the file system commits them together (one pass, not one wait per file)


def _fsync_path(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make every file under ``folder`` (and the folders themselves) durable: one pass of concurrent fsyncs."""
    files, dirs = [], [folder]
    for root, subdirs, names in os.walk(folder):
        files += [os.path.join(root, n) for n in names]
        dirs += [Path(root, d) for d in subdirs]
    with ThreadPoolExecutor(min(FSYNC_THREADS, max(1, len(files)))) as pool:
        list(pool.map(_fsync_path, files))  # re-raises the first OSError
    for d in reversed(dirs):
        _fsync_path(d)


def atomic_folder(path: str | os.PathLike[str], fill: Callable[[Path], T]) -> T:
    """Call ``fill(tmp)`` on a fresh temp folder beside ``path``, make it durable, then swap it in for ``path``.

    ``fill`` writes plain files (no per-file temp names or fsyncs: nothing is visible under ``path`` until all of
    it is); then every file is fsynced in one concurrent pass (:func:`fsync_folder`), an existing ``path`` folder
    is renamed aside, the new one renamed in and the old one removed. A failure (an exception in ``fill``,
    SIGINT/SIGTERM/SIGHUP) leaves ``path`` as it was and no temp folder. OS errors are one FormatError naming
    ``path``. Returns what ``fill`` returns.
    """
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    old = out.with_name(f".{out.name}.old{os.getpid()}")
    try:
        with _temp_registered(tmp):
            try:
                shutil.rmtree(tmp, ignore_errors=True)  # left by a killed process that had our pid
                tmp.mkdir(parents=True)
                result = fill(tmp)
                fsync_folder(tmp)
                if out.exists():
                    out.rename(old)
                tmp.rename(out)
                _fsync_path(out.parent)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        raise FormatError(out, f"cannot write: {os_error_message(err)}") from None
    return result


def _torch_reason(err: BaseException) -> str:
    """The reason in a torch.load error, without torch's advice to load with ``weights_only=False``."""
    text = str(err).replace("\x1b[1m", "").replace("\x1b[0m", "")
    for line in text.splitlines():
        _, sep, rest = line.partition("WeightsUnpickler error:")
        if sep:
            return rest.strip().split(". Please")[0].split(" was not an allowed global")[0].strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "weights_only" not in ln and "load failed" not in ln.lower()]
    return lines[0][:200] if lines else type(err).__name__


def safe_torch_load(path: str | os.PathLike[str]) -> Any:
    """``torch.load`` with ``weights_only=True`` of a user file; any failure becomes one :class:`FormatError`."""
    with open_user_file(path) as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notes on a damaged file's pickle protocol: the error says enough
        try:
            return torch.load(fh, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise FormatError(path, f"refused by the safe loader (weights_only=True): {_torch_reason(err)}") from None
        except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, struct.error, IndexError,
                KeyError, TypeError, AttributeError, UnicodeDecodeError, OverflowError, MemoryError) as err:
            reason = _torch_reason(err)
            raise FormatError(path, f"not a readable torch file (truncated or corrupt?): {reason}") from None


def read_safetensors(path: str | os.PathLike[str]) -> NetFile:
    """Read a boardnet ``.safetensors`` net; its spec is checked (family, config and meta mappings)."""
    data = read_user_bytes(path)
    try:
        header_len = int.from_bytes(data[:8], "little")
        if len(data) < 8 or header_len > len(data) - 8:
            raise ValueError(f"header length {header_len} beyond the {len(data)}-byte file")
        header = json.loads(data[8:8 + header_len])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        tensors = load_safetensors_bytes(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise FormatError(path, f"not a valid safetensors file: {str(err)[:200]}", offset=0) from None
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or SPEC_KEY not in meta:
        raise FormatError(path, f"no '{SPEC_KEY}' metadata: not written by boardnet", field="__metadata__")
    try:
        spec = spec_from_dict(json.loads(meta[SPEC_KEY]), path, SPEC_KEY)
    except (json.JSONDecodeError, TypeError, RecursionError) as err:
        raise FormatError(path, f"bad JSON: {err}", field=SPEC_KEY) from None
    verify_checksums(tensors, meta.get(SHA256_KEY), path, SHA256_KEY)
    return checked_netfile(spec, tensors, path, "spec")


def write_safetensors(net: NetFile, path: str | os.PathLike[str]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict.items()}
    meta = {SPEC_KEY: json.dumps(spec_to_dict(net.spec)), SHA256_KEY: json.dumps(tensor_checksums(tensors))}
    blob = memoryview(save_safetensors_bytes(tensors, metadata=meta))
    header = _canonical_header(blob)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(blob[8 + int.from_bytes(blob[:8], "little"):])

    atomic_write(path, write)


def _canonical_header(blob: memoryview) -> bytes:
    """The length-prefixed header of a safetensors ``blob`` with its keys sorted: the library writes
    ``__metadata__`` in hash order, which changes from run to run, so without this the same net would not always
    give the same bytes. Tensor offsets count from the end of the header, so its length may change; it is padded
    with spaces to a multiple of 8 bytes as the format asks."""
    n = int.from_bytes(blob[:8], "little")
    text = json.dumps(json.loads(bytes(blob[8:8 + n])), separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text


def read_pt(path: str | os.PathLike[str], net: str | None = None, ema: bool = False) -> NetFile:
    """Read a boardnet ``.pt`` net or training checkpoint (``net``/``ema`` pick a checkpoint's net)."""
    data = safe_torch_load(path)
    if not isinstance(data, dict):
        raise FormatError(path, f"expected a dict at the top level, got {type(data).__name__}")
    kind = data.get("format")
    if kind == "boardnet-net":
        tensors = _tensor_dict(data.get("state_dict"), path)
        verify_checksums(tensors, data.get("sha256"), path, "sha256")
        return checked_netfile(spec_from_dict(data.get("spec"), path), tensors, path, "spec")
    if kind == "boardnet-checkpoint":
        verify_payload(data, path)
        nets = data.get("nets") or {}
        if not isinstance(nets, dict):
            raise FormatError(path, f"must be a mapping, got {type(nets).__name__}", field="nets")
        if not nets:
            raise FormatError(path, "checkpoint holds no networks", field="nets")
        name = net or next(iter(nets))
        if name not in nets:
            raise FormatError(path, f"no network '{name}'; it has: {', '.join(nets)}", field="nets")
        entry = nets[name]
        if not isinstance(entry, dict):
            raise FormatError(path, "not a network entry", field=f"nets.{name}")
        weights = entry.get("ema") if ema else entry.get("state_dict")
        if weights is None:
            raise FormatError(path, f"network '{name}' has no {'EMA ' if ema else ''}weights", field="nets")
        spec = spec_from_dict(entry.get("spec"), path, f"nets.{name}.spec")
        return checked_netfile(spec, _tensor_dict(weights, path), path, f"nets.{name}")
    raise FormatError(path, "not a boardnet .pt file (no 'format' key); for other .pt files name --from",
                      field="format")


def write_pt(net: NetFile, path: str | os.PathLike[str]) -> None:
    state_dict = {k: v.detach().cpu() for k, v in net.state_dict.items()}
    payload = {"format": "boardnet-net", "spec": spec_to_dict(net.spec), "state_dict": state_dict,
               "sha256": tensor_checksums(state_dict)}
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _tensor_dict(data: Any, path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                             for k, v in data.items()):
        raise FormatError(path, "state_dict is not a mapping of names to tensors", field="state_dict")
    return dict(data)


# ------------------------------------------------------------------------------------------------- .npz

_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand data by more than ~1032x: a bigger claim is a lie
NPZ_MAX_BYTES = 4 << 30  # all arrays of one .npz read together, decompressed
NPZ_MAX_RATIO = 200.0  # decompressed : compressed, for a member above NPZ_RATIO_FLOOR bytes
NPZ_RATIO_FLOOR = 64 << 20  # members up to this size may compress any (honest) amount


def read_npz(path: str | os.PathLike[str], names: list[str] | None = None, max_bytes: int = NPZ_MAX_BYTES,
             max_ratio: float = NPZ_MAX_RATIO) -> dict[str, np.ndarray]:
    """Arrays of a user ``.npz`` (no pickles), every one bounded before it is allocated.

    Each member's ``.npy`` header (shape, dtype) must describe exactly the bytes the archive declares for
    it, and that declared size must be possible for the bytes really stored (compression ratio); zip
    damage (bad CRC, truncation, bad headers) is one :class:`FormatError` naming the member.

    Limits (checked on the sizes the archive declares, before anything is inflated): the arrays read
    together hold at most ``max_bytes``; a compressed member above :data:`NPZ_RATIO_FLOOR` (64 MiB)
    inflates to at most ``max_ratio`` times its compressed size (a 1 GiB array of zeros deflates to ~1 MB:
    a zip bomb, honest or not). Self-play and reference data compress 1-130x.
    """
    with open_user_file(path) as fh:
        try:
            with zipfile.ZipFile(fh) as zf:
                if any(not i.filename for i in zf.infolist()):
                    raise FormatError(path, "a member of the archive has an empty name")
                infos = {i.filename.removesuffix(".npy"): i for i in zf.infolist() if not i.is_dir()}
                missing = [n for n in names or [] if n not in infos]
                if missing:
                    raise FormatError(path, f"no array '{missing[0]}' (has: {', '.join(infos)})", field=missing[0])
                chosen = [infos[name] for name in names or list(infos)]
                _check_npz_sizes(chosen, path, max_bytes, max_ratio)
                return {name: _read_npz_member(zf, info, path) for name, info in zip(names or list(infos), chosen)}
        except FormatError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError, SyntaxError,
                NotImplementedError, RuntimeError, struct.error, UnicodeDecodeError, OverflowError, zlib.error) as err:
            raise FormatError(path, f"not a readable .npz file: {first_line(err)}") from None


def _check_npz_sizes(infos: list[zipfile.ZipInfo], path: str | os.PathLike[str], max_bytes: int,
                     max_ratio: float) -> None:
    """Refuse members whose declared (decompressed) sizes break :func:`read_npz`'s limits."""
    total = 0
    for info in infos:
        field, size, packed = info.filename, info.file_size, info.compress_size
        if info.compress_type != zipfile.ZIP_STORED:
            if size > (packed + 64) * _DEFLATE_MAX_RATIO:
                raise FormatError(path, f"claims {size:,} bytes from {packed:,} compressed", field=field)
            if size > NPZ_RATIO_FLOOR and size > packed * max_ratio:
                raise FormatError(path, f"inflates {packed:,} compressed bytes to {size:,} ({size / max(packed, 1):,.0f}"
                                  f"x; the limit is {max_ratio:g}x above {NPZ_RATIO_FLOOR >> 20} MiB): refused as a "
                                  "zip bomb (raise max_ratio to read it)", field=field)
        total += size
        if total > max_bytes:
            raise FormatError(path, f"the arrays read hold {total:,} bytes or more; the limit is {max_bytes:,} "
                              "(raise max_bytes to read them)", field=field)


def _read_npz_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str | os.PathLike[str]) -> np.ndarray:
    field = info.filename
    with zf.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = read_header(member)
        except (ValueError, SyntaxError, EOFError, tokenize.TokenError) as err:
            raise FormatError(path, f"bad .npy header: {first_line(err)}", field=field) from None
        if dtype.hasobject:
            raise FormatError(path, f"dtype {dtype} holds Python objects (pickles are refused)", field=field)
        header_len = member.tell()
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes != info.file_size - header_len:
            raise FormatError(path, f"header says {list(shape)} {dtype} ({nbytes:,} bytes) but the member holds "
                              f"{info.file_size - header_len:,}", field=field)
        array = np.empty(math.prod(shape), dtype=dtype)
        got = member.readinto(memoryview(array.view(np.uint8))) if nbytes else 0
        if got != nbytes or member.read(1):  # read to the end: zipfile checks the CRC there
            raise FormatError(path, "member shorter than its header says", field=field)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
