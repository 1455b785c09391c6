"""``boardnet convert IN OUT``: any supported format to any other that can hold it."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert a network between formats")
    p.add_argument("input", help="source file (a TF checkpoint may be given by its prefix)")
    p.add_argument("output", help="destination file; its suffix picks the format")
    p.add_argument("--from", dest="src_format", help="source format, if the suffix does not tell")
    p.add_argument("--to", dest="dst_format", help="destination format, if the suffix does not tell")
    p.add_argument("--features", help="NNUE feature set, e.g. HalfKAv2_hm^ (factorized) or HalfKP")
    p.add_argument("--mapping", help="YAML mapping file (TF/Keras names -> PyTorch names)")
    p.add_argument("--model", help="python path of the target model class, package.module:Class")
    p.add_argument("--encoding", help="lc0 weight encoding when writing .pb.gz: LINEAR16 or FLOAT32; "
                   ".nnue: plain or leb128 (compressed FT)")
    p.add_argument("--net", help="which network of a training checkpoint (default: the first)")
    p.add_argument("--ema", action="store_true", default=None, help="take a training checkpoint's EMA weights")
    p.add_argument("--outputs", nargs="*", help="ONNX: extra intermediate outputs to export, e.g. /block3")
    p.add_argument("--slots", nargs="?", const="", metavar="FILE",
                   help="TF checkpoint: also export optimizer slots (Adam m/v, beta powers), mapped like their "
                        "variables, to FILE (default: OUTPUT's stem + .slots.safetensors)")
    p.set_defaults(func=run)


READ_OPTIONS = ("features", "mapping", "model", "net", "ema")
WRITE_OPTIONS = ("features", "encoding", "outputs")


def run(args: argparse.Namespace) -> int:
    from boardnet.convert import convert, detect_format

    src = detect_format(args.input, args.src_format)
    dst = detect_format(args.output, args.dst_format)
    read_opts = {k: getattr(args, k) for k in READ_OPTIONS}
    write_opts = {k: getattr(args, k) for k in WRITE_OPTIONS}
    # --features describes the source when it is an .nnue file, the target otherwise.
    if src.name == "nnue":
        write_opts["features"] = None
    else:
        read_opts["features"] = None
    if args.slots is not None and src.name != "tf-checkpoint":
        from boardnet.errors import ConversionError

        raise ConversionError(f"--slots applies to TensorFlow checkpoints, not {src.name} files")
    net = convert(args.input, args.output, src_format=src.name, dst_format=dst.name,
                  read_options=read_opts, write_options=write_opts)
    n_params = sum(t.numel() for t in net.state_dict.values())
    print(f"wrote {args.output} ({dst.name}) from {args.input} ({src.name}): {net.spec.family}, "
          f"{n_params:,} parameters")
    if args.slots is not None:
        from pathlib import Path

        from boardnet.formats.tf_checkpoint import write_slots

        out = Path(args.slots or Path(args.output).with_name(Path(args.output).stem + ".slots.safetensors"))
        n = write_slots(args.input, out, args.mapping)
        print(f"wrote {out}: {n} optimizer tensors")
    return 0
