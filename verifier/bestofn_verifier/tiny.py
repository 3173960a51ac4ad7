"""Builds the tiny verifier fixture for tests with the `onnx` helper API (no torch): a word-level
tokenizer over the fixture texts, token and token-type embeddings, masked mean pooling and a
linear head. Weights are seeded, so the committed files are reproducible.

usage: python -m bestofn_verifier tiny --out tests/fixtures/verifier-tiny --texts FILE...
"""

import argparse
import json
import re
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from .config import VerifierConfig, write_directory_atomically

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def build_tokenizer(texts) -> Tokenizer:
    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    vocab = {token: i for i, token in enumerate(SPECIAL + words)}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return tokenizer


def build_model(vocab_size: int, dim: int = 16, seed: int = 0) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    initializers = [
        numpy_helper.from_array(rng.normal(0, 1, (vocab_size, dim)).astype(np.float32), "token_embedding"),
        numpy_helper.from_array(rng.normal(0, 1, (2, dim)).astype(np.float32), "type_embedding"),
        numpy_helper.from_array(rng.normal(0, 0.5, (dim, 1)).astype(np.float32), "head_weight"),
        numpy_helper.from_array(np.array([0.1], dtype=np.float32), "head_bias"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "seq_axis"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
    ]
    nodes = [
        helper.make_node("Gather", ["token_embedding", "input_ids"], ["tokens"]),
        helper.make_node("Gather", ["type_embedding", "token_type_ids"], ["types"]),
        helper.make_node("Add", ["tokens", "types"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last_axis"], ["mask3"]),
        helper.make_node("Mul", ["embedded", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "seq_axis"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "seq_axis"], ["count"], keepdims=0),
        helper.make_node("Div", ["summed", "count"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "head_weight"], ["projected"]),
        helper.make_node("Add", ["projected", "head_bias"], ["logits"]),
    ]
    dynamic = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes,
        "bestofn_tiny_verifier",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dynamic)
         for n in ["input_ids", "attention_mask", "token_type_ids"]],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bestofn")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier tiny", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="verifier directory to write")
    parser.add_argument("--texts", nargs="+", required=True,
                        help="JSONL files whose string fields make up the vocabulary")
    parser.add_argument("--max-length", type=int, default=64)
    args = parser.parse_args(argv)

    texts = []
    for path in args.texts:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                texts.extend(v for v in json.loads(line).values() if isinstance(v, str))
    tokenizer = build_tokenizer(texts)
    model = build_model(tokenizer.get_vocab_size())
    config = VerifierConfig(max_length=args.max_length, base_model="tiny-test-fixture (random weights)",
                            training={"note": "untrained fixture for tests; scores mean nothing"})

    def write(directory):
        onnx.save(model, str(directory / "model.onnx"))
        tokenizer.save(str(directory / "tokenizer.json"))
        (directory / "verifier.json").write_text(config.to_json())

    write_directory_atomically(args.out, write)
    print(f"wrote {args.out}: vocabulary {tokenizer.get_vocab_size()}, max_length {args.max_length}")


if __name__ == "__main__":
    main()
