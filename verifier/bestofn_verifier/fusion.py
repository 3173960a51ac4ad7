"""ONNX Runtime's BERT graph fusions on an exported encoder: one Attention operator per layer
(and QAttention once quantized), SkipLayerNormalization, BiasGelu, EmbedLayerNormalization.

transformers scales Q·Kᵀ by a Mul, and ONNX Runtime's attention pattern then takes that Mul for
the mask's (both feed the Add before Softmax), so no Attention fuses; the scale is rewritten as
the Div by its inverse that the pattern expects. The fused graph is checked against PyTorch by
the export's parity check like any other."""

import json
from pathlib import Path

import numpy as np

# Model types whose exported graphs fuse (checked on MiniLM, a BERT).
FUSABLE = {"bert"}


def attention_shape(hf_directory: Path):
    """(heads, hidden size) of a fusable encoder's config.json, else None."""
    try:
        config = json.loads((hf_directory / "config.json").read_text())
    except (OSError, ValueError):
        return None
    if config.get("model_type") not in FUSABLE:
        return None
    return config["num_attention_heads"], config["hidden_size"]


def scale_as_division(model):
    """Softmax(Mul(MatMul, c) + mask) becomes Softmax(Div(MatMul, 1/c) + mask); returns how many."""
    from onnx import numpy_helper
    from onnxruntime.transformers.onnx_model import OnnxModel

    graph = OnnxModel(model)
    producer = graph.output_name_to_node()
    rewritten = 0
    for softmax in [n for n in model.graph.node if n.op_type == "Softmax"]:
        add = producer.get(softmax.input[0])
        scale = producer.get(add.input[0]) if add is not None and add.op_type == "Add" else None
        if scale is None or scale.op_type != "Mul" or getattr(producer.get(scale.input[0]), "op_type", None) != "MatMul":
            continue
        factor = graph.get_constant_value(scale.input[1])
        if factor is None or np.size(factor) != 1 or float(factor) == 0:
            continue
        name = f"{scale.output[0]}/inverse_scale"
        model.graph.initializer.append(numpy_helper.from_array(np.array(1 / float(factor), np.float32), name))
        scale.op_type, scale.input[1] = "Div", name
        rewritten += 1
    return rewritten


def fuse_encoder(model, heads: int, hidden: int):
    """The fused model and the count of each fused operator, or (model, {}) when nothing fused."""
    from onnxruntime.transformers.optimizer import optimize_model

    if not scale_as_division(model):
        return model, {}
    optimized = optimize_model(model, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0)
    fused = {op: count for op, count in optimized.get_fused_operator_statistics().items() if count}
    if not fused.get("Attention"):
        return model, {}
    fused_model = optimized.model
    if not any(o.domain == "com.microsoft" for o in fused_model.opset_import):
        from onnx import helper

        fused_model.opset_import.append(helper.make_opsetid("com.microsoft", 1))  # where the fused operators live
    return fused_model, fused
