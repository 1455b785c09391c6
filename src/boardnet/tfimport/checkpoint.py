"""TensorFlow checkpoints as boardnet nets: inspect, read through a mapping, optimizer slots.

The bytes are read by :mod:`boardnet.tfimport.bundle`; TF2 readable names come from
:mod:`boardnet.tfimport.object_graph`.
"""

from __future__ import annotations

import os

import numpy as np

from boardnet.tfimport.bundle import DTYPES, index_path, is_slot, read_index, read_variables
from boardnet.tfimport.object_graph import checkpoint_readable_names, read_object_graph, slot_keys


def inspect_file(path: str | os.PathLike[str]) -> str:
    """One line per checkpoint entry: ``name [shape] dtype`` (slots included, marked).

    TF2 object checkpoints add the readable name decoded from the object graph: ``key [shape] dtype = name``.
    """
    num_shards, entries = read_index(path)
    readable = checkpoint_readable_names(path)
    names = {enum: dt.name for enum, dt in DTYPES.items()} | {7: "string"}
    lines = [f"TensorFlow checkpoint {index_path(path)}: {len(entries)} entries, {num_shards} shard(s)"]
    for e in entries.values():
        mark = "  (slot)" if is_slot(e.name) else ""
        mark += f"  (partitioned: {len(e.slices)} slices)" if e.slices else ""
        alias = f" = {readable[e.name]}" if e.name in readable else ""
        lines.append(f"{e.name} [{','.join(map(str, e.shape))}] {names.get(e.dtype, e.dtype)}{alias}{mark}")
    return "\n".join(lines)


def read_net(path: str | os.PathLike[str], mapping: str | None = None, model: str | None = None,
             swa: bool | None = None, train_config: str | None = None):  # noqa: ANN201 - NetFile (lazy import)
    """Checkpoint -> NetFile via a mapping (file or built-in name; default: the built-in that fits).

    For a TF2 object checkpoint the mapping's sources may be either the checkpoint keys or the readable names
    of its object graph (``conv1/kernel``); the keys are tried first. lczero-training checkpoints (mapping
    ``lczero``, or chosen when the variables are those of a tfprocess.py model) are read by
    :mod:`boardnet.tfimport.lczero`, which takes ``swa`` (the SWA weights) and ``train_config`` (its YAML).
    """
    from boardnet.core.errors import ConversionError
    from boardnet.tfimport import lczero
    from boardnet.tfimport.mapping import select_mapping, to_netfile

    readable = checkpoint_readable_names(path)
    if mapping == "lczero" or (mapping is None and lczero.looks_like_lczero(readable.values())):
        if model is not None:
            raise ConversionError("--model does not apply to lczero-training checkpoints (they become lc0 nets)")
        return lczero.read_net(path, swa=bool(swa), train_config=train_config)
    if swa or train_config is not None:
        raise ConversionError(f"{path}: --swa and --train-config apply to lczero-training checkpoints only")
    variables, m = select_mapping(read_variables(path), readable, mapping, path)
    return to_netfile(variables, m, model)


# ---------------------------------------------------------------------------------------------- slots
# TF1 slot variables are named ``<var>/<suffix>``; the slot names are TF's (m, v for Adam).
_TF1_SLOTS = {"/Adam": "Adam/m", "/Adam_1": "Adam/v", "/Momentum": "Momentum/momentum",
              "/RMSProp": "RMSProp/rms", "/RMSProp_1": "RMSProp/momentum"}
SLOT_MARK = "/.OPTIMIZER_SLOT/"
OPTIMIZER_PREFIX = ".OPTIMIZER/"


def slot_variables(path: str | os.PathLike[str], all_vars: dict[str, np.ndarray]) -> dict[str, tuple[str, str]]:
    """slot key -> (its variable's key, slot label such as ``Adam/m`` or ``optimizer/m``)."""
    nodes = read_object_graph(path)
    if nodes is not None:
        return slot_keys(nodes)
    out = {}
    for k in all_vars:
        for suffix, label in _TF1_SLOTS.items():
            if k.endswith(suffix) and k[: -len(suffix)] in all_vars:
                out[k] = (k[: -len(suffix)], label)
    return out


def read_slots(path: str | os.PathLike[str], mapping: str | None = None) -> dict[str, np.ndarray]:
    """Optimizer state of a checkpoint, named after the *mapped* parameters and laid out like them.

    Returns ``<param>/.OPTIMIZER_SLOT/<label>`` (e.g. ``conv1.weight/.OPTIMIZER_SLOT/Adam/m``), each slot
    transformed exactly as its variable is by the mapping, plus the optimizer's other variables
    (``beta1_power``, ``global_step``, ``optimizer/iter`` ...) as ``.OPTIMIZER/<name>``. Every slot kind
    must exist for every mapped variable (strict, like the mapping).
    """
    from boardnet.core.errors import ConversionError
    from boardnet.tfimport.mapping import apply_mapping, select_mapping
    from boardnet.tfimport.object_graph import OBJECT_GRAPH_KEY, checkpoint_readable_names

    everything = read_variables(path, slots=True)
    slots = slot_variables(path, everything)
    model_vars = {k: a for k, a in everything.items() if not is_slot(k) and k not in slots}
    readable = checkpoint_readable_names(path)
    view, m = select_mapping(model_vars, readable, mapping, path)
    rename = (lambda k: readable.get(k, k)) if view is not model_vars else (lambda k: k)
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, (var, label) in slots.items():
        if everything[key].shape != everything[var].shape:
            raise ConversionError(f"{key}: slot shape {list(everything[key].shape)} differs from its variable "
                                  f"{var} {list(everything[var].shape)}")
        groups.setdefault(label, {})[rename(var)] = everything[key]
    out: dict[str, np.ndarray] = {}
    for label, group in sorted(groups.items()):
        absent = sorted(set(view) - set(group))
        if absent:
            raise ConversionError(f"{path}: slot {label} is missing for variables {absent}")
        for dst, a in apply_mapping(group, m).items():
            out[f"{dst}{SLOT_MARK}{label}"] = np.ascontiguousarray(a)
    for k, a in everything.items():
        if is_slot(k) and k not in slots and k != OBJECT_GRAPH_KEY:
            out[OPTIMIZER_PREFIX + readable.get(k, k)] = a
    return out


def prepare_slots(path: str | os.PathLike[str], mapping: str | None = None):  # noqa: ANN201 - (out) -> int
    """Read and check :func:`read_slots` now; returns ``write(out) -> count`` that writes them to a plain
    ``.safetensors`` file. Everything that can fail on the input fails here, before any output is written."""
    import torch
    from safetensors.torch import save_file

    from boardnet.core.errors import ConversionError
    from boardnet.core.io import atomic_write

    slots = read_slots(path, mapping)
    if not slots:
        raise ConversionError(f"{path}: the checkpoint holds no optimizer slots to export")
    tensors = {k: torch.from_numpy(np.array(a, copy=True)) for k, a in slots.items()}

    def write(out: str | os.PathLike[str]) -> int:
        atomic_write(out, lambda tmp: save_file(tensors, str(tmp), metadata={"boardnet-slots-source": str(path)}))
        return len(tensors)

    return write


def write_slots(path: str | os.PathLike[str], out: str | os.PathLike[str], mapping: str | None = None) -> int:
    """Write :func:`read_slots` to a plain ``.safetensors`` file ``out``; returns the tensor count."""
    return prepare_slots(path, mapping)(out)
