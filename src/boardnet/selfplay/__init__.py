"""boardnet.selfplay: batched MCTS self-play, its workers and evaluators (this file stays import-light)."""

from typing import Literal, get_args

# the leaf evaluator: onnxruntime when installed ("auto"), else PyTorch
Backend = Literal["auto", "torch", "onnx"]
BACKENDS: tuple[str, ...] = get_args(Backend)
