"""lc0 attention-body ``.pb.gz``: round trips, multi-head and legacy files (tests/lc0/fixtures, with lc0 v0.31.2's
outputs), older format flags upgraded as lc0's ``FixOlderWeightsFile`` does, refusals, inspect."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.cli import main
from boardnet.core.build import load_net
from boardnet.core.convert import read_net
from boardnet.core.errors import FormatError
from boardnet.lc0 import net_pb2 as pb
from boardnet.lc0.transformer_weights import tensor_table
from boardnet.lc0.weights import write_net
from tests.conftest import fixture_path
from tests.lc0.test_transformer import (
    LEGACY,
    MULTIHEAD,
    NETS,
    POLICY_HEADS,
    VALUE_HEADS,
    assert_heads_match,
    head_outputs,
    local_reference,
)

NF = pb.NetworkFormat
BT4 = "bt-c-pedense-bt4like"


def load_proto(name: str) -> pb.Net:
    net = pb.Net()
    net.ParseFromString(gzip.decompress(fixture_path("lc0_transformer", f"{name}.pb.gz").read_bytes()))
    return net


def save_proto(net: pb.Net, path: Path) -> Path:
    path.write_bytes(gzip.compress(net.SerializeToString()))
    return path


@pytest.mark.parametrize("name", NETS)
def test_round_trip_gives_identical_tensors(name: str, tmp_path: Path) -> None:
    a = read_net(fixture_path("lc0_transformer", f"{name}.pb.gz"))
    assert len(tensor_table(a.spec.config)) == len(a.state_dict)
    for encoding in ("linear16", "float32"):
        write_net(a, tmp_path / f"{encoding}.pb.gz", encoding)
        b = read_net(tmp_path / f"{encoding}.pb.gz")
        assert b.spec.config == a.spec.config and b.state_dict.keys() == a.state_dict.keys()
        for key, value in a.state_dict.items():
            assert torch.equal(b.state_dict[key], value), (encoding, key)


def test_multihead_file_reads_every_head_and_round_trips(tmp_path: Path) -> None:
    nf = read_net(MULTIHEAD)
    cfg = nf.spec.config
    assert cfg["multihead"] and nf.spec.meta["network"] == "NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT"
    assert tuple(cfg["policy_heads"]) == POLICY_HEADS and tuple(cfg["value_heads"]) == VALUE_HEADS
    assert cfg["policy_embedding_size"] == 64 and cfg["policy_heads"]["opponent"] == {"d_model": 32,
                                                                                      "embedding_size": 32}
    for encoding in ("linear16", "float32"):
        write_net(nf, tmp_path / "again.pb.gz", encoding)
        again = read_net(tmp_path / "again.pb.gz")
        assert again.spec.config == cfg
        assert all(torch.equal(again.state_dict[k], v) for k, v in nf.state_dict.items())


@pytest.mark.parametrize("network", [NF.NETWORK_AB_LEGACY_WITH_MULTIHEADFORMAT, NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT])
def test_older_multihead_flags_are_upgraded(network: int, tmp_path: Path) -> None:
    """AB_LEGACY_WITH_MULTIHEADFORMAT -> multi-head; a single-head flag on a file with both head groups ->
    multi-head and PE_DENSE, even with input_embedding unset (lc0 FixOlderWeightsFile): the same heads as lc0
    computed for the multi-head file."""
    net = pb.Net()
    net.ParseFromString(gzip.decompress(MULTIHEAD.read_bytes()))
    net.format.network_format.network = network
    if network == NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT:
        net.format.network_format.ClearField("input_embedding")
    nf = read_net(save_proto(net, tmp_path / "x.pb.gz"))
    assert nf.spec.config["multihead"] and nf.spec.meta["upgraded"]
    if network == NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT:
        assert "ATTENTIONBODY_WITH_MULTIHEADFORMAT, PE_DENSE" in nf.spec.meta["upgraded"]
    ref = local_reference(MULTIHEAD)
    with torch.no_grad():
        assert_heads_match(head_outputs(load_net(nf).eval()(torch.from_numpy(ref["planes"]))), ref)


def test_legacy_se_flag_files_are_upgraded_as_lc0_does() -> None:
    bt2, bt3 = (read_net(p) for p in LEGACY)
    assert bt2.spec.meta["upgraded"] == ("SE_WITH_HEADFORMAT with encoder layers -> ATTENTIONBODY_WITH_HEADFORMAT; "
                                         "input_embedding unset -> PE_MAP")
    assert "smolgen: ffn_activation RELU_2, smolgen_activation SWISH" in bt3.spec.meta["upgraded"]
    assert (bt2.spec.config["activation"], bt2.spec.config["ffn_activation"], bt2.spec.config["smolgen"]) == (
        "relu", "relu", None)
    cfg = bt3.spec.config
    assert (cfg["embedding"], cfg["ffn_activation"], cfg["smolgen_activation"]) == ("pe_map", "relu2", "swish")


def test_old_smolgen_net_overrides_explicit_activations(tmp_path: Path) -> None:
    """lc0 sets relu² / swish on an SE-flag file with smolgen even where the file names other activations."""
    net = pb.Net()
    net.ParseFromString(gzip.decompress(LEGACY[1].read_bytes()))
    net.format.network_format.smolgen_activation = NF.ACTIVATION_MISH
    net.format.network_format.ffn_activation = NF.ACTIVATION_MISH
    cfg = read_net(save_proto(net, tmp_path / "bt3.pb.gz")).spec.config
    assert (cfg["ffn_activation"], cfg["smolgen_activation"]) == ("relu2", "swish")


@pytest.mark.parametrize("raw, message", [(bytes([0x48, 42]), "unknown ffn_activation value 42"),
                                          (bytes([0x50, 7]), "unknown input_embedding value 7")])
def test_unknown_enum_values_are_refused(raw: bytes, message: str, tmp_path: Path) -> None:
    net = load_proto("bt-a-pemap-mish")
    net.format.network_format.MergeFromString(raw)  # field 9 / 10 with a value net.proto does not know
    with pytest.raises(FormatError, match=message):
        read_net(save_proto(net, tmp_path / "x.pb.gz"))


def test_unsupported_activation_is_refused_by_name(tmp_path: Path) -> None:
    net = load_proto("bt-a-pemap-mish")
    net.format.network_format.ffn_activation = NF.ACTIVATION_SOFTMAX
    with pytest.raises(FormatError, match=r"ffn_activation ACTIVATION_SOFTMAX \(9\)"):
        read_net(save_proto(net, tmp_path / "x.pb.gz"))


@pytest.mark.parametrize("damage, field, words", [
    (lambda w: setattr(w, "headcount", 5), "weights.headcount", "headcount 5 does not divide"),
    (lambda w: setattr(w.encoder[1].mha.q_b, "params", w.encoder[1].mha.q_b.params[:-2]),
     "weights.encoder[1].mha.q_b", "has 63 values"),
    (lambda w: w.encoder[1].ffn.ClearField("dense2_b"), "weights.encoder[1].ffn.dense2_b", "missing tensor"),
    (lambda w: setattr(w.smolgen_b, "params", b"\0\0"), "weights.smolgen_b", "unexpected tensor"),
])
def test_inconsistent_file_is_one_error_naming_the_field(damage, field: str, words: str, tmp_path: Path) -> None:
    net = load_proto("bt-a-pemap-mish")
    damage(net.weights)
    with pytest.raises(FormatError, match=words) as err:
        read_net(save_proto(net, tmp_path / "x.pb.gz"))
    assert field in str(err.value)


def test_inspect_names_every_part(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(fixture_path("lc0_transformer", f"{BT4}.pb.gz"))]) == 0
    text = capsys.readouterr().out
    for part in ("NETWORK_ATTENTIONBODY_WITH_HEADFORMAT", "embedding: PE_DENSE, 8 dense position channels",
                 "input gating yes", "4 layers x 8 heads, embedding 128, d_model 128, dff 256",
                 "smolgen: 8 compress channels, hidden 64, 32 per head, activation swish",
                 "default mish, ffn relu2", "policy head vanilla: attention", "value head winner: wdl, 32",
                 "moves-left: 8 channels/square, hidden 128", "parameters: 1,741,228"):
        assert part in text, part


def test_inspect_shows_every_head_and_the_upgrade(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(MULTIHEAD)]) == 0
    text = capsys.readouterr().out
    for part in ("NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT", "policy head soft: attention, embedding 64 (shared)",
                 "policy head opponent: attention, embedding 32, d_model 32", "value head q: wdl, 4 channels/square",
                 "value head st: wdl, 4 channels/square, hidden 64", "parameters: 368,314"):
        assert part in text, part
    assert main(["inspect", str(LEGACY[1])]) == 0
    assert "upgraded on load (as lc0 does): SE_WITH_HEADFORMAT with encoder layers" in capsys.readouterr().out


def test_convert_and_verify_from_the_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    net, ref = (str(fixture_path("lc0_transformer", f"bt-b-pemap-smolgen{s}")) for s in (".pb.gz", ".npz"))
    assert main(["convert", net, str(tmp_path / "b.pt")]) == 0
    assert main(["convert", str(tmp_path / "b.pt"), str(tmp_path / "b.pb.gz")]) == 0
    assert main(["verify", str(tmp_path / "b.pb.gz"), ref, "--atol", "2e-5", "--rtol", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines if line.endswith("ok")] == ["d", "policy_logits", "q"]


def test_per_layer_float_encodings_are_read_exactly(tmp_path: Path) -> None:
    """lc0 master's ``Layer.encoding``: FLOAT16 / BFLOAT16 / FLOAT32 layers decode to exactly their stored values."""
    a = read_net(fixture_path("lc0_transformer", "bt-a-pemap-mish.pb.gz"))
    net = load_proto("bt-a-pemap-mish")
    q = net.weights.encoder[0].mha
    values = {"q_w": a.state_dict["encoder.0.mha.q.weight"], "k_w": a.state_dict["encoder.0.mha.k.weight"],
              "v_w": a.state_dict["encoder.0.mha.v.weight"]}
    stored = {"q_w": values["q_w"].numpy().astype("<f2"),  # FLOAT16
              "k_w": (values["k_w"].numpy().view("<u4") >> 16).astype("<u2"),  # BFLOAT16: top 16 bits
              "v_w": values["v_w"].numpy().astype("<f4")}  # FLOAT32
    for field, enc in (("q_w", pb.Weights.Layer.FLOAT16), ("k_w", pb.Weights.Layer.BFLOAT16),
                       ("v_w", pb.Weights.Layer.FLOAT32)):
        layer = getattr(q, field)
        layer.encoding, layer.params = enc, stored[field].tobytes()
    b = read_net(save_proto(net, tmp_path / "mixed.pb.gz"))
    assert torch.equal(b.state_dict["encoder.0.mha.q.weight"],
                       torch.from_numpy(stored["q_w"].astype(np.float32)).reshape(64, 64))
    bf16 = (stored["k_w"].astype(np.uint32) << 16).view(np.float32)
    assert torch.equal(b.state_dict["encoder.0.mha.k.weight"], torch.from_numpy(bf16).reshape(64, 64))
    assert torch.equal(b.state_dict["encoder.0.mha.v.weight"], values["v_w"])


def test_heads_net_proto_cannot_hold_are_refused_on_write(tmp_path: Path) -> None:
    from boardnet.core.errors import ConversionError
    from boardnet.core.spec import ModelSpec, NetFile

    nf = read_net(fixture_path("lc0_transformer", "bt-a-pemap-mish.pb.gz"))
    cfg = dict(nf.spec.config, value_heads={"winner": {"channels": 16, "hidden": 128},
                                            "draw": {"channels": 16, "hidden": 128}})
    for multihead, words in ((False, "single-head lc0 net"), (True, "multi-head nets hold")):
        bad = NetFile(ModelSpec("lc0_transformer", dict(cfg, multihead=multihead)), nf.state_dict)
        with pytest.raises(ConversionError, match=words):
            write_net(bad, tmp_path / "x.pb.gz")
    assert not (tmp_path / "x.pb.gz").exists()


def test_unknown_training_params_are_refused_on_write(tmp_path: Path) -> None:
    from boardnet.core.errors import ConversionError
    from boardnet.core.spec import ModelSpec, NetFile

    nf = read_net(fixture_path("lc0_transformer", "bt-a-pemap-mish.pb.gz"))
    bad = NetFile(ModelSpec("lc0_transformer", nf.spec.config, {"training_params": {"learn": 0.1}}), nf.state_dict)
    with pytest.raises(ConversionError, match="TrainingParams has no field 'learn'"):
        write_net(bad, tmp_path / "x.pb.gz")
    assert not (tmp_path / "x.pb.gz").exists()
