"""An ensemble's members as one ONNX graph, so a frame costs one inference call per task.

Why: the members are small (0.3-0.9 MB); run one by one, ONNX Runtime's per-call overhead and
the Python loop cost as much as the convolutions (measured on the eye ensemble, 3 members, a
batch of 2 crops: 2.07 ms as three calls, 1.39 ms merged). The merged graph shares one input,
keeps every member's nodes under a ``m<i>/`` prefix and adds ``member_probs`` (M, N, C): the
members' probabilities stacked, which :func:`~drowsy.inference.voting.vote` combines. Each
member's Grad-CAM outputs stay available as ``m<i>/features`` and ``m<i>/grad_features``; ONNX
Runtime only computes the outputs a call asks for.
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, compose, helper

from drowsy.inference.metadata import LOGITS, PROBS, ModelError

MEMBER_PROBS = "member_probs"
INPUT = "input"


def prefix(i: int) -> str:
    return f"m{i}/"


def _input_dims(model: onnx.ModelProto) -> list[int | str]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims]


def merge_members(members: list[onnx.ModelProto], paths: list[Path]) -> onnx.ModelProto:
    """One model computing every member on a shared input; metadata from the first member,
    plus ``members`` (their names in order)."""
    first = members[0]
    dims = _input_dims(first)
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    outputs: list[onnx.ValueInfoProto] = []
    for i, (model, path) in enumerate(zip(members, paths, strict=True)):
        if _input_dims(model)[1:] != dims[1:] or len(model.graph.input) != 1:
            raise ModelError(f"model {path}: its input does not match the other members'")
        if model.opset_import != first.opset_import:
            raise ModelError(f"model {path}: opset differs from the other members'")
        own_input = model.graph.input[0].name
        named = compose.add_prefix(model, prefix(i))
        for node in named.graph.node:
            node.input[:] = [INPUT if x == prefix(i) + own_input else x for x in node.input]
        nodes.extend(named.graph.node)
        initializers.extend(named.graph.initializer)
        outputs.extend(o for o in named.graph.output if o.name != prefix(i) + LOGITS)
    axes = "member_axis"
    nodes.append(
        helper.make_node(
            "Constant", [], [axes], value=helper.make_tensor(axes, TensorProto.INT64, [1], [0])
        )
    )
    for i in range(len(members)):
        nodes.append(helper.make_node("Unsqueeze", [prefix(i) + PROBS, axes], [f"m{i}_row"]))
    rows = [f"m{i}_row" for i in range(len(members))]
    nodes.append(helper.make_node("Concat", rows, [MEMBER_PROBS], axis=0))
    graph_input = helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, dims)
    stacked = helper.make_tensor_value_info(MEMBER_PROBS, TensorProto.FLOAT, None)
    graph = helper.make_graph(
        nodes, "ensemble", [graph_input], [stacked, *outputs], initializer=initializers
    )
    merged = helper.make_model(graph, opset_imports=first.opset_import)
    merged.ir_version = first.ir_version
    meta = {p.key: p.value for p in first.metadata_props}
    meta["member"] = "ensemble"
    meta["outputs"] = json.dumps([MEMBER_PROBS, *(o.name for o in outputs)])
    names = [metadata(m).get("member", p.stem) for m, p in zip(members, paths, strict=True)]
    meta["members"] = json.dumps(names)
    helper.set_model_props(merged, meta)
    return merged


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}
