"""``boardnet verify A B``: compare outputs of two models / a model and a reference npz."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="compare a network's outputs with another network or a reference .npz")
    p.add_argument("a", help="model file (any format boardnet reads, or .onnx) or reference .npz")
    p.add_argument("b", help="model file or reference .npz (the reference for relative errors)")
    p.add_argument("--inputs", help="npz holding the inputs (states or planes) to run both models on")
    p.add_argument("--random", type=int, metavar="N", help="generate N valid inputs from the model's spec")
    p.add_argument("--seed", type=int, default=0, help="seed for --random (default 0)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from boardnet.errors import VerificationError
    from boardnet.verify import verify

    where: list[str] = []
    checks = verify(args.a, args.b, args.atol, args.rtol, inputs=args.inputs, random=args.random,
                    seed=args.seed, report=where)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks]))
    else:
        print(where[0])
        for c in checks:
            print(f"{c.name:16s} max_abs {c.max_abs:.3e}  max_rel {c.max_rel:.3e}  {'ok' if c.passed else 'FAIL'}")
    failed = [c.name for c in checks if not c.passed]
    if failed:
        raise VerificationError(f"outputs differ beyond atol={args.atol} rtol={args.rtol}: {', '.join(failed)}")
    return 0
