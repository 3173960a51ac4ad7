"""An OpenRLHF reward function file: point OpenRLHF at this file.

    --remote_rm_url $(python -c "import bestofn_grade.openrlhf as o; print(o.__file__)") \\
    --label_key answer

OpenRLHF calls ``reward_func(queries, prompts, labels)`` with each query the prompt followed by
the response, and the label (the dataset's ``--label_key`` column) of each. Each response is
graded against its label with bestofn's grader in process (the same rule as ``bestofn serve``'s
``/get_reward`` with labels): 1.0 when its final answer matches, else 0.0. A label may be text, a
reference solution (``#### 18``, a ``\\boxed{}``) or a number. Answers the dict current OpenRLHF
reads (``rewards``, ``scores``, ``extra_logs``), with torch tensors when torch is importable.
"""

from .verl import compute_score

__all__ = ["reward_func"]


def _response(query, prompt):
    return query[len(prompt):] if prompt and query.startswith(prompt) else query


def reward_func(queries, prompts, labels):
    """OpenRLHF's signature: one reward per query, in order."""
    if not (len(queries) == len(prompts) == len(labels)):
        raise ValueError(
            f"{len(queries)} queries, {len(prompts)} prompts and {len(labels)} labels: "
            "one of each per response (is --label_key set?)"
        )
    rewards = [
        compute_score(None, _response(query, prompt), label)
        for query, prompt, label in zip(queries, prompts, labels)
    ]
    try:
        import torch
    except ImportError:
        return {"rewards": rewards, "scores": rewards, "extra_logs": {}}
    tensor = torch.tensor(rewards, dtype=torch.float32)
    return {"rewards": tensor, "scores": tensor, "extra_logs": {"accuracy": tensor.mean()}}
