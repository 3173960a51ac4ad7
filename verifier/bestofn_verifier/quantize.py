"""Writes an int8 copy of a verifier directory: dynamic quantization of the weights of the
MatMul/Gemm layers (activations quantized at run time), which speeds up CPU inference.

usage: python -m bestofn_verifier quantize --verifier DIR --out DIR_INT8
"""

import argparse
import shutil
from pathlib import Path

from .config import VerifierConfig, write_directory_atomically


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bestofn_verifier quantize", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verifier", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = Path(args.verifier)
    config = VerifierConfig.load(source)

    def write(directory: Path):
        # A model kept in model.onnx.data is written the same way (it may be past 2 GB).
        external = (source / "model.onnx.data").exists()
        quantize_dynamic(str(source / "model.onnx"), str(directory / "model.onnx"), weight_type=QuantType.QInt8,
                         use_external_data_format=external)
        shutil.copy(source / "tokenizer.json", directory / "tokenizer.json")
        config.quantization = "dynamic-int8 (onnxruntime.quantization.quantize_dynamic, QInt8 weights)"
        (directory / "verifier.json").write_text(config.to_json())

    write_directory_atomically(args.out, write)
    print(f"wrote int8 verifier {args.out}")


if __name__ == "__main__":
    main()
