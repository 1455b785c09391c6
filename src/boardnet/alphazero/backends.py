"""boardnet.alphazero.backends: batched MCTS self-play, its workers and evaluators (this file stays import-light)."""

from typing import Literal, get_args

# the leaf evaluator: onnxruntime when installed ("auto"), else PyTorch; "onnx" runs a policy-value net's 3x3
# convolutions as Winograd F(4x4, 3x3) transforms, "onnx-direct" exports them as plain convolutions
Backend = Literal["auto", "torch", "onnx", "onnx-direct"]
BACKENDS: tuple[str, ...] = get_args(Backend)
