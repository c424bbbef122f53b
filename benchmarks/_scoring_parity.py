"""Parity between lm-eval's logged samples and likra's score table for the same documents.

For each head: are the request texts identical, how far apart are the per-request
log-likelihoods, on how many documents does the chosen answer differ, and what accuracy does
each side report (lm-eval's own aggregate vs likra's own decision rules).
"""

from __future__ import annotations

from likra.data.questions import Question

_SNIPPET = 60


def lm_logliks(samples: list[dict]) -> list[list[float]]:
    return [[float(r[0]) for r in s["filtered_resps"]] for s in samples]


def lm_greedy(samples: list[dict]) -> list[list[bool]]:
    return [[bool(r[1]) for r in s["filtered_resps"]] for s in samples]


def lm_gold(sample: dict) -> int:
    """The gold index lm-eval scored against: doc_to_target's int, or for multiple-input tasks
    (Winogrande, whose target is the shared continuation) the doc's answer '1'/'2'."""
    target = sample["target"]
    return target if isinstance(target, int) else int(sample["doc"]["answer"]) - 1


def pick(values: list[float], lengths: list[int] | None = None) -> int:
    """lm-eval's choice: numpy.argmax (first maximum) of the log-likelihoods, or of ll / characters."""
    scores = values if lengths is None else [v / n for v, n in zip(values, lengths)]
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def first_difference(a: str, b: str) -> dict:
    """Where two strings first differ, with a little text around it from each."""
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, i - 20)
    return {"char": i, "likra": a[lo:i + _SNIPPET], "lm_eval": b[lo:i + _SNIPPET]}


def text_parity(samples: list[dict], questions: list[Question]) -> dict:
    """Do likra's (context, continuation) requests equal lm-eval's logged arguments, doc by doc?"""
    differ, example = [], None
    for s, q in zip(samples, questions):
        ours = [tuple(r) for r in q.requests()]
        theirs = [tuple(a[:2]) for a in s["arguments"]]
        if ours != theirs:
            differ.append(s["doc_id"])
            if example is None:
                bad = next(i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y) if len(ours) == len(theirs) else 0
                part = 0 if ours[bad][0] != theirs[bad][0] else 1
                example = {"doc_id": s["doc_id"], "request": bad, "part": ("context", "continuation")[part],
                           **first_difference(ours[bad][part], theirs[bad][part])}
    return {"identical": not differ, "docs_differ": len(differ), "first_docs_differ": differ[:10],
            "example": example}


def head_parity(samples: list[dict], questions: list[Question], ours: list[list[float]],
                our_greedy: list[list[bool]], with_norm: bool) -> dict:
    """Per-request and per-document agreement of one head's scores (over all documents)."""
    theirs, their_greedy = lm_logliks(samples), lm_greedy(samples)
    diffs = [abs(a - b) for xs, ys in zip(ours, theirs) for a, b in zip(xs, ys)]
    lengths = [[len(c) for c in q.choices] for q in questions]
    out = {
        "max_abs_loglik_diff": max(diffs) if diffs else 0.0,
        "mean_abs_loglik_diff": sum(diffs) / len(diffs) if diffs else 0.0,
        "chosen_differ_acc": sum(pick(x) != pick(y) for x, y in zip(ours, theirs)),
        "greedy_flags_differ": sum(a != b for xs, ys in zip(our_greedy, their_greedy) for a, b in zip(xs, ys)),
        "gold_differ": sum(lm_gold(s) != q.gold for s, q in zip(samples, questions)),
    }
    if with_norm:
        out["chosen_differ_acc_norm"] = sum(pick(x, n) != pick(y, n) for x, y, n in zip(ours, theirs, lengths))
    out["closest_margin_flipped"] = _flipped_margin(ours, theirs)
    return out


def _flipped_margin(ours: list[list[float]], theirs: list[list[float]]) -> float | None:
    """For documents whose (acc) choice differs: the largest gap, on lm-eval's side, between the two
    choices involved. Tiny gaps mean near-ties decided by float rounding."""
    gaps = []
    for x, y in zip(ours, theirs):
        a, b = pick(x), pick(y)
        if a != b:
            gaps.append(abs(y[a] - y[b]))
    return max(gaps) if gaps else None
