"""lc0 attention-body ``.pb.gz``: round trips, multi-head and legacy files, refusals, inspect.

Multi-head and legacy files are made from the real fixture nets by moving their tensors to where the newer /
older trainers put them (``policy_heads``/``value_heads``, the old SE network flag); lc0 loads those the same
way (``FixOlderWeightsFile``, ``MultiHeadWeights``), so their outputs are checked against lc0's reference.
"""

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
from boardnet.core.onnx import write_net as write_onnx
from boardnet.lc0 import net_pb2 as pb
from boardnet.lc0.policy_map import policy_moves
from boardnet.lc0.transformer_weights import tensor_table
from boardnet.lc0.weights import write_net
from tests.conftest import fixture_path
from tests.lc0.test_transformer import NETS, as_reference, assert_matches, eager_outputs, reference

NF = pb.NetworkFormat
HEAD_POLICY = ("ip_pol_w", "ip_pol_b", "ip2_pol_w", "ip2_pol_b", "ip3_pol_w", "ip3_pol_b", "ip4_pol_w")
HEAD_VALUE = ("ip_val_w", "ip_val_b", "ip1_val_w", "ip1_val_b", "ip2_val_w", "ip2_val_b")
BT4 = "bt-c-pedense-bt4like"


def load_proto(name: str) -> pb.Net:
    net = pb.Net()
    net.ParseFromString(gzip.decompress(fixture_path("lc0_transformer", f"{name}.pb.gz").read_bytes()))
    return net


def save_proto(net: pb.Net, path: Path) -> Path:
    path.write_bytes(gzip.compress(net.SerializeToString()))
    return path


def move_to_multihead(net: pb.Net, network: int) -> None:
    """Top-level single heads -> ``policy_heads`` (shared embedding + vanilla) and ``value_heads.winner``."""
    w = net.weights
    for f in HEAD_POLICY:
        getattr(w.policy_heads if f.startswith("ip_pol") else w.policy_heads.vanilla, f).CopyFrom(getattr(w, f))
        w.ClearField(f)
    for f in HEAD_VALUE:
        getattr(w.value_heads.winner, f).CopyFrom(getattr(w, f))
        w.ClearField(f)
    net.format.network_format.network = network


def add_mirrored_heads(net: pb.Net) -> None:
    """optimistic = vanilla with wq/wk swapped (its logit from->to is vanilla's to->from); value head q = winner
    with the W and L rows swapped (its q is -q)."""
    ph, vh = net.weights.policy_heads, net.weights.value_heads
    ph.optimistic_st.CopyFrom(ph.vanilla)
    for a, b in (("ip2_pol_w", "ip3_pol_w"), ("ip2_pol_b", "ip3_pol_b")):
        getattr(ph.optimistic_st, a).CopyFrom(getattr(ph.vanilla, b))
        getattr(ph.optimistic_st, b).CopyFrom(getattr(ph.vanilla, a))
    vh.q.CopyFrom(vh.winner)
    hidden = len(vh.winner.ip1_val_b.params) // 2
    for f, row in (("ip2_val_w", 2 * hidden), ("ip2_val_b", 2)):  # bytes of one W/D/L row of u16 values
        p = getattr(vh.winner, f).params
        getattr(vh.q, f).params = p[2 * row:] + p[row:2 * row] + p[:row]


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


@pytest.mark.slow
@pytest.mark.parametrize("network", [NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT,
                                     NF.NETWORK_AB_LEGACY_WITH_MULTIHEADFORMAT])
def test_multihead_net_runs_every_head(network: int, tmp_path: Path) -> None:
    net = load_proto(BT4)
    move_to_multihead(net, network)
    add_mirrored_heads(net)
    path = save_proto(net, tmp_path / "mh.pb.gz")
    nf = read_net(path)
    cfg = nf.spec.config
    assert cfg["multihead"] and list(cfg["policy_heads"]) == ["vanilla", "optimistic"]
    assert list(cfg["value_heads"]) == ["winner", "q"] and cfg["policy_embedding_size"] == 128
    ref = reference(BT4)
    with torch.no_grad():
        out = load_net(nf).eval()(torch.from_numpy(ref["planes"]))
    vanilla = as_reference(out["policy"].numpy(), torch.softmax(out["value"], 1).numpy(), out["mlh"].numpy())
    assert_matches(vanilla, ref)
    index = {m: i for i, m in enumerate(policy_moves())}
    pairs = [(i, index[m[2:4] + m[:2]]) for i, m in enumerate(policy_moves()) if len(m) == 4]
    mine, theirs = (list(c) for c in zip(*pairs))
    assert np.abs(out["policy/optimistic"].numpy()[:, mine] - ref["policy_logits"][:, theirs]).max() <= 2e-5
    wdl = torch.softmax(out["value/q"], 1).numpy()
    assert np.abs(wdl[:, 0] - wdl[:, 2] + ref["q"]).max() <= 2e-6
    write_net(nf, tmp_path / "again.pb.gz")
    again = read_net(tmp_path / "again.pb.gz")
    assert again.spec.config == cfg and all(torch.equal(again.state_dict[k], v) for k, v in nf.state_dict.items())


@pytest.mark.slow
def test_multihead_onnx_has_one_output_per_head(tmp_path: Path) -> None:
    import onnxruntime as ort

    net = load_proto(BT4)
    move_to_multihead(net, NF.NETWORK_ATTENTIONBODY_WITH_MULTIHEADFORMAT)
    add_mirrored_heads(net)
    nf = read_net(save_proto(net, tmp_path / "mh.pb.gz"))
    write_onnx(nf, tmp_path / "mh.onnx")
    sess = ort.InferenceSession(str(tmp_path / "mh.onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names == ["/output/policy", "/output/policy/optimistic", "/output/wdl", "/output/wdl/q", "/output/mlh"]
    planes = reference(BT4)["planes"][:4]
    got = dict(zip(names, sess.run(None, {"/input/planes": planes})))
    with torch.no_grad():
        out = load_net(nf).eval()(torch.from_numpy(planes))
    assert np.abs(got["/output/policy/optimistic"] - out["policy/optimistic"].numpy()).max() <= 2e-5
    assert np.abs(got["/output/wdl/q"] - torch.softmax(out["value/q"], 1).numpy()).max() <= 1e-6


def test_single_head_flag_with_head_groups_becomes_multihead_pe_dense(tmp_path: Path) -> None:
    net = load_proto(BT4)
    move_to_multihead(net, NF.NETWORK_ATTENTIONBODY_WITH_HEADFORMAT)
    net.format.network_format.ClearField("input_embedding")
    path = save_proto(net, tmp_path / "x.pb.gz")
    nf = read_net(path)
    assert nf.spec.config["multihead"] and nf.spec.config["embedding"] == "pe_dense"
    assert "ATTENTIONBODY_WITH_MULTIHEADFORMAT, PE_DENSE" in nf.spec.meta["upgraded"]
    ref = reference(BT4)
    assert_matches(eager_outputs(path, ref["planes"]), ref)


def test_old_se_flag_with_encoder_layers_is_an_attention_body(tmp_path: Path) -> None:
    net = load_proto("bt-a-pemap-mish")
    net.format.network_format.network = NF.NETWORK_SE_WITH_HEADFORMAT
    net.format.network_format.ClearField("input_embedding")
    path = save_proto(net, tmp_path / "old.pb.gz")
    nf = read_net(path)
    assert nf.spec.config["embedding"] == "pe_map" and "input_embedding unset -> PE_MAP" in nf.spec.meta["upgraded"]
    ref = reference("bt-a-pemap-mish")
    assert_matches(eager_outputs(path, ref["planes"]), ref)


def test_old_smolgen_net_gets_relu2_ffn_and_swish_smolgen(tmp_path: Path) -> None:
    net = load_proto("bt-b-pemap-smolgen")
    fmt = net.format.network_format
    fmt.network, fmt.smolgen_activation = NF.NETWORK_SE_WITH_HEADFORMAT, NF.ACTIVATION_MISH
    for field in ("ffn_activation", "input_embedding"):
        fmt.ClearField(field)
    cfg = read_net(save_proto(net, tmp_path / "bt2.pb.gz")).spec.config
    assert (cfg["ffn_activation"], cfg["smolgen_activation"], cfg["embedding"]) == ("relu2", "swish", "pe_map")


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
