"""Core verbs: ``config``, ``convert``, ``inspect``, ``verify``."""

from __future__ import annotations

import argparse

from boardnet.core import progress


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register this family's verbs."""
    add_config_parser(sub)
    add_convert_parser(sub)
    add_inspect_parser(sub)
    add_verify_parser(sub)


# --- config ----------------------------------------------------------------------------------------------

def add_config_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="show a resolved config")
    verbs = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = verbs.add_parser("show", help="print the config with defaults and overrides applied")
    show.add_argument("config", nargs="?", default=None, help="YAML file or bundled name (default gomoku-8x8)")
    show.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.batch_size=256")
    show.set_defaults(func=run_show)
    lst = verbs.add_parser("list", help="list the bundled configs")
    lst.set_defaults(func=run_list)


def run_show(args: argparse.Namespace) -> int:
    from boardnet.core.config import dump_yaml, load_config

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config:  # only overrides given
        overrides.insert(0, config)
        config = None
    print(dump_yaml(load_config(config, overrides)), end="")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from boardnet.core.config import bundled_config_names

    print("\n".join(bundled_config_names()))
    return 0


# --- convert ---------------------------------------------------------------------------------------------

def add_convert_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a network between formats")
    p.add_argument("input", help="source file (a TF checkpoint may be given by its prefix)")
    p.add_argument("output", help="destination file; its suffix picks the format")
    p.add_argument("--from", dest="src_format", help="source format, if the suffix does not tell")
    p.add_argument("--to", dest="dst_format", help="destination format, if the suffix does not tell")
    p.add_argument("--features", help="NNUE feature set, e.g. HalfKAv2_hm^ (factorized) or HalfKP")
    p.add_argument("--mapping", help="YAML mapping file (TF/Keras names -> PyTorch names) or a built-in one "
                   "(azg_tf1, azg_keras; lczero: an lczero-training checkpoint, else detected)")
    p.add_argument("--model", help="python path of the target model class, package.module:Class")
    p.add_argument("--encoding", help="lc0 weight encoding when writing .pb.gz: LINEAR16 or FLOAT32; "
                   ".nnue: plain or leb128 (compressed FT)")
    p.add_argument("--net", help="which network of a training checkpoint (default: the first)")
    p.add_argument("--ema", action="store_true", default=None, help="take a training checkpoint's EMA weights")
    p.add_argument("--swa", action="store_true", default=None,
                   help="lczero-training checkpoint: take the SWA weights instead of the raw ones")
    p.add_argument("--train-config", metavar="YAML",
                   help="lczero-training checkpoint: the YAML config it was trained with (heads, activations)")
    p.add_argument("--outputs", nargs="*", help="ONNX: extra intermediate outputs to export, e.g. /block3")
    p.add_argument("--slots", nargs="?", const="", metavar="FILE",
                   help="TF checkpoint: also export optimizer slots (Adam m/v, beta powers), mapped like their "
                        "variables, to FILE (default: OUTPUT's stem + .slots.safetensors)")
    progress.add_arguments(p)
    p.set_defaults(func=run_convert)


READ_OPTIONS = ("features", "mapping", "model", "net", "ema", "swa", "train_config")
WRITE_OPTIONS = ("features", "encoding", "outputs")


def run_convert(args: argparse.Namespace) -> int:
    """Read and check every input (net, mapping, slots) and both output paths before writing the first byte."""
    from pathlib import Path

    from boardnet.core.convert import detect_format, prepare_slots, read_net, write_net
    from boardnet.core.io import check_output_path

    src = detect_format(args.input, args.src_format)
    dst = detect_format(args.output, args.dst_format, option="--to")
    read_opts = {k: getattr(args, k) for k in READ_OPTIONS}
    write_opts = {k: getattr(args, k) for k in WRITE_OPTIONS}
    # --features describes the source when it is an .nnue file, the target otherwise.
    if src.name == "nnue":
        write_opts["features"] = None
    else:
        read_opts["features"] = None
    if args.slots is not None and src.slots is None:
        from boardnet.core.errors import ConversionError

        raise ConversionError(f"--slots applies to TensorFlow checkpoints, not {src.name} files")
    slots_out = None
    if args.slots is not None:
        slots_out = Path(args.slots or Path(args.output).with_name(Path(args.output).stem + ".slots.safetensors"))
        check_output_path(slots_out)
    check_output_path(args.output)
    steps = 2 if slots_out is None else 4
    with progress.from_args("convert", steps, args, "step") as bar:
        with bar.busy(f"reading {args.input} ({src.name})"):
            net = read_net(args.input, src.name, **read_opts)
        bar.update(1, info="read")
        write_slots = None
        if slots_out is not None:
            with bar.busy(f"reading the optimizer slots of {args.input}"):
                write_slots = prepare_slots(args.input, args.mapping, src.name)
            bar.update(2, info="slots read")
        with bar.busy(f"writing {args.output} ({dst.name})"):
            write_net(net, args.output, dst.name, **write_opts)
        bar.update(steps - 1 if slots_out is not None else 2, info="written")
        n_params = net.n_parameters
        print(f"wrote {args.output} ({dst.name}) from {args.input} ({src.name}): {net.spec.family}, "
              f"{n_params:,} parameters")
        if write_slots is not None and slots_out is not None:
            with bar.busy(f"writing {slots_out}"):
                n = write_slots(slots_out)
            bar.update(steps, info="slots written")
            print(f"wrote {slots_out}: {n} optimizer tensors")
        bar.finish(f"{n_params:,} parameters, {_size(args.input)} read, {_size(args.output)} written", rate=False)
    return 0


def _size(path: str) -> str:
    """``1.2 MB``: a file's size (a TF checkpoint, named by its prefix or its ``.index``: index and data files)."""
    from pathlib import Path

    p = Path(path)
    prefix = p.with_suffix("") if p.suffix == ".index" else p
    files = [p] if p.is_file() else []
    files += [q for q in prefix.parent.glob(prefix.name + ".*") if q.is_file() and (
        q.suffix == ".index" or ".data-" in q.name) and q not in files]
    size = sum(q.stat().st_size for q in files)
    return f"{size / 1e6:,.1f} MB" if size >= 1e5 else f"{size / 1e3:,.1f} kB"


# --- inspect ---------------------------------------------------------------------------------------------

def add_inspect_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print what a network, checkpoint or NNUE training-data file holds")
    p.add_argument("file")
    p.add_argument("--from", dest="format", help="format, if the suffix does not tell")
    p.set_defaults(func=run_inspect)


def run_inspect(args: argparse.Namespace) -> int:
    from boardnet.core.convert import inspect_file

    print(inspect_file(args.file, args.format))
    return 0


# --- verify ----------------------------------------------------------------------------------------------

def add_verify_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="compare a network's outputs with another network or a reference .npz")
    p.add_argument("a", help="model file (any format boardnet reads, or .onnx) or reference .npz")
    p.add_argument("b", help="model file or reference .npz (the reference for relative errors)")
    p.add_argument("--inputs", help="npz holding the inputs (states or planes) to run both models on")
    p.add_argument("--random", type=int, metavar="N", help="generate N valid inputs from the model's spec")
    p.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    p.add_argument("--form", choices=("both", "module", "inference"), default="both",
                   help="nets with an inference form (lc0): check the trainable module (BatchNorm unfolded), the "
                        "inference form (BatchNorm folded as lc0 folds it) or both (default)")
    p.add_argument("--swa", action="store_true", default=None,
                   help="lczero-training checkpoint side: take the SWA weights instead of the raw ones")
    p.add_argument("--train-config", metavar="YAML",
                   help="lczero-training checkpoint side: the YAML config it was trained with (heads, activations)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    import json

    from boardnet.core.errors import VerificationError
    from boardnet.core.verify import verify

    where: list[str] = []
    checks = verify(args.a, args.b, args.atol, args.rtol, inputs=args.inputs, random=args.random,
                    seed=args.seed, report=where, form=args.form,
                    read_options={"swa": args.swa, "train_config": args.train_config})
    if args.json:
        print(json.dumps([c.__dict__ for c in checks]))
    else:
        print(where[0])
        width = 28 if any(c.form for c in checks) else 16
        for c in checks:
            name = f"{c.name} [{c.form}]" if c.form else c.name
            print(f"{name:{width}s} max_abs {c.max_abs:.3e}  max_rel {c.max_rel:.3e}  {'ok' if c.passed else 'FAIL'}")
    failed = [f"{c.name} [{c.form}]" if c.form else c.name for c in checks if not c.passed]
    if failed:
        raise VerificationError(f"outputs differ beyond atol={args.atol} rtol={args.rtol}: {', '.join(failed)}")
    return 0
