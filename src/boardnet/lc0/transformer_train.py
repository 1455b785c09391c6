"""``networks.<name>: {type: lc0_bt_train, ...}``: an lc0 attention-body net described by a training config.

The net is a plain :class:`~boardnet.lc0.transformer.Lc0Transformer` (spec family ``lc0_transformer``, so
checkpoints convert to ``.pb.gz`` and ONNX); this module only adds the typed config. It trains the single-head
format (one attention policy, one value head, moves-left) that ``forward`` returns as ``policy``, ``value``,
``mlh``. A new net starts from DeepNorm's initialisation (:func:`deepnorm_init`). ``init_from: NET.pb.gz`` (set by
``boardnet train --init``) takes the architecture and the weights from an existing single-head attention-body net,
e.g. to fine-tune it.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from pydantic import Field
from torch import nn

from boardnet.core.config import ComponentConfig
from boardnet.core.errors import ConversionError
from boardnet.lc0.transformer import Lc0Transformer


def deepnorm_beta(layers: int) -> float:
    """DeepNorm's initialisation gain for an encoder-only stack of ``layers`` layers: ``(8·L)^(-1/4)`` (its
    residual factor ``alpha = (2·L)^(-1/4)`` is applied by the model, as lc0 does)."""
    return (8.0 * layers) ** -0.25


def deepnorm_init(net: Lc0Transformer) -> None:
    """DeepNorm (Wang et al. 2022) for the encoder: Xavier-normal weights with gain ``beta`` on the value and
    output projections of every attention block and on both dense layers of every FFN (the embedding FFN
    included), gain 1 on the query and key projections; their biases zero. Other layers keep PyTorch's default."""
    beta = deepnorm_beta(net.config["encoder_layers"])

    def xavier(layer: nn.Linear, gain: float) -> None:
        nn.init.xavier_normal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)

    ffns = [layer.ffn for layer in net.encoder] + ([net.embedding.ffn] if net.embedding.pe_dense else [])
    for layer in net.encoder:
        for proj, gain in ((layer.mha.q, 1.0), (layer.mha.k, 1.0), (layer.mha.v, beta), (layer.mha.dense, beta)):
            xavier(proj, gain)
    for ffn in ffns:
        xavier(ffn.dense1, beta)
        xavier(ffn.dense2, beta)


Activation = Literal["mish", "relu", "swish", "relu2", "selu", "tanh", "sigmoid", "none"]


class Lc0TransformerTrainNet(Lc0Transformer):
    """:class:`Lc0Transformer` built from a typed config (encoder d_model and the policy embedding and
    query/key sizes are ``embedding_size``, as in lc0's BT nets)."""

    class Config(ComponentConfig):
        type: Literal["lc0_bt_train"] = "lc0_bt_train"
        embedding: Literal["pe_map", "pe_dense"] = "pe_map"
        embedding_size: int = Field(64, gt=0)
        encoder_layers: int = Field(2, gt=0)
        encoder_heads: int = Field(4, gt=0)
        encoder_dff: int = Field(128, gt=0)
        activation: Literal["mish", "relu"] = "mish"
        ffn_activation: Activation = "mish"
        smolgen: bool = False
        smolgen_channels: int = Field(8, gt=0)
        smolgen_hidden: int = Field(64, gt=0)
        smolgen_gen: int = Field(32, gt=0, description="generator size per attention head")
        smolgen_activation: Activation = "swish"
        pe_dense_channels: int = Field(8, gt=0, description="PE_DENSE only")
        embedding_dff: int = Field(128, gt=0, description="PE_DENSE embedding FFN width")
        gating: bool = False
        value: Literal["wdl", "classical"] = "wdl"
        value_channels: int = Field(16, gt=0)
        value_hidden: int = Field(128, gt=0)
        moves_left: bool = True
        mlh_channels: int = Field(8, gt=0)
        mlh_hidden: int = Field(32, gt=0)
        init_from: str | None = None

    @classmethod
    def from_config(cls, cfg: Config, game: Any = None) -> Lc0TransformerTrainNet:
        del game
        if cfg.init_from:
            return cls.from_net_file(cfg.init_from)
        if cfg.embedding_size % cfg.encoder_heads:
            raise ConversionError(f"embedding_size {cfg.embedding_size} is not a multiple of encoder_heads "
                                  f"{cfg.encoder_heads}")
        pe_dense = cfg.embedding == "pe_dense"
        net = cls(embedding=cfg.embedding, embedding_size=cfg.embedding_size, encoder_layers=cfg.encoder_layers,
                  encoder_heads=cfg.encoder_heads, encoder_d_model=cfg.embedding_size, encoder_dff=cfg.encoder_dff,
                  policy_heads={"vanilla": {"d_model": cfg.embedding_size, "embedding_size": cfg.embedding_size}},
                  value_heads={"winner": {"channels": cfg.value_channels, "hidden": cfg.value_hidden}},
                  activation=cfg.activation, ffn_activation=cfg.ffn_activation,
                  smolgen_activation=cfg.smolgen_activation,
                  smolgen={"channels": cfg.smolgen_channels, "hidden": cfg.smolgen_hidden, "gen": cfg.smolgen_gen}
                  if cfg.smolgen else None,
                  pe_dense_channels=cfg.pe_dense_channels if pe_dense else 0,
                  embedding_dff=cfg.embedding_dff if pe_dense else 0, gating=cfg.gating, value=cfg.value,
                  moves_left=cfg.moves_left, mlh_channels=cfg.mlh_channels, mlh_hidden=cfg.mlh_hidden)
        deepnorm_init(net)
        return net

    @classmethod
    def from_net_file(cls, path: str) -> Lc0TransformerTrainNet:
        """The architecture and weights of the single-head lc0 attention-body net in ``path``."""
        from boardnet.core.convert import read_net

        nf = read_net(path)
        if nf.spec.family != "lc0_transformer":
            raise ConversionError(f"init_from {path}: holds a {nf.spec.family} network, not an lc0 attention body")
        if nf.spec.config.get("multihead"):
            raise ConversionError(f"init_from {path}: multi-head nets are not trained by lc0_bt_train (its losses "
                                  "read one policy, one value and the moves-left output)")
        net = cls(**nf.spec.config)
        net.load_state_dict(nf.state_dict)
        cfg = nf.spec.config
        print(f"network from {path}: {cfg['embedding']}, {cfg['encoder_layers']} layers x {cfg['encoder_heads']} "
              f"heads, embedding {cfg['embedding_size']}", file=sys.stderr)
        return net
