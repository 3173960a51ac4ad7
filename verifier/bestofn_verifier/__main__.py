"""python -m bestofn_verifier {train,export,quantize,tiny,tiny-rm,score,embedder,experiment,study-report,memory,arithmetic} ..."""

import importlib
import sys

COMMANDS = {
    "train": "train",
    "export": "export",
    "quantize": "quantize",
    "tiny": "tiny",
    "tiny-rm": "tiny_rm",
    "score": "score_baseline",
    "embedder": "embedder",
    "experiment": "experiment",
    "study-report": "study_report",
    "memory": "memory",
    "arithmetic": "arithmetic",
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        print("commands: " + ", ".join(COMMANDS), file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(f"bestofn_verifier.{COMMANDS[sys.argv[1]]}")
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
