"""bestofn's vLLM offline worker: one LLM loaded once, batches of requests generated with
`LLM.generate` (completion prompts) or `LLM.chat` (conversations).

argv[1]: {"model": ..., "engine_args": {...}} (engine_args go to vllm.LLM as they are).
stdin: request lines {"id", "prompt" | "messages", "seed", "temperature", "top_p", "top_k",
"max_tokens", "stop"}, each batch ended by {"run": true}.
stdout: {"ready": true, "vllm": VERSION} once loaded; per batch one line per request {"id",
"text", "finish_reason", "tokens"}, then {"done": true}. Anything else vLLM prints goes to
stderr, so the protocol stays clean.
"""

import json
import os
import sys

protocol = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

import vllm  # noqa: E402
from vllm import LLM, SamplingParams  # noqa: E402


def send(message):
    protocol.write(json.dumps(message) + "\n")


def sampling(request):
    return SamplingParams(
        n=1,
        seed=request["seed"],
        temperature=request["temperature"],
        top_p=request["top_p"],
        top_k=request["top_k"] or -1,
        max_tokens=request["max_tokens"],
        stop=request["stop"] or None,
    )


def run(llm, batch):
    outputs = [None] * len(batch)
    for kind, call in (("prompt", llm.generate), ("messages", llm.chat)):
        chosen = [i for i, request in enumerate(batch) if kind in request]
        if not chosen:
            continue
        inputs = [batch[i][kind] for i in chosen]
        params = [sampling(batch[i]) for i in chosen]
        for i, output in zip(chosen, call(inputs, params, use_tqdm=False)):
            outputs[i] = output.outputs[0]
    for request, output in zip(batch, outputs):
        send({
            "id": request["id"],
            "text": output.text,
            "finish_reason": output.finish_reason,
            "tokens": len(output.token_ids),
        })
    send({"done": True})
    protocol.flush()


def main():
    config = json.loads(sys.argv[1])
    llm = LLM(model=config["model"], **config["engine_args"])
    send({"ready": True, "vllm": vllm.__version__})
    protocol.flush()
    batch = []
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("run"):
            run(llm, batch)
            batch = []
        else:
            batch.append(request)


if __name__ == "__main__":
    main()
