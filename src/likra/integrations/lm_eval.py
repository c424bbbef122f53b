"""lm-evaluation-harness model `likra`: lm-eval's tasks scored by likra's engine under a Likra rule.

Importing this module registers the model with lm-eval (`@register_model("likra")`). Two doors:

- Command line: `main(argv)` runs lm-eval's own CLI with every flag unchanged (`likra lm-eval ...`):
      likra lm-eval --model likra --model_args run=RUN,mode=likra,weight=1 --tasks arc_challenge
- Python:
      import lm_eval, likra.integrations.lm_eval
      lm_eval.simple_evaluate(model="likra", model_args="run=RUN,mode=likra", tasks=["arc_challenge"])

Each `loglikelihood` request (context, continuation) gets the summed log-likelihood its mode's rule
gives (likra.scoring.rules.RULES): base -> L_base, sft -> L_pos, likra -> L_pos - w*L_neg,
base_likra -> L_base - w*L_neg. lm-eval's own metrics do the rest, so its acc_norm (each choice's
score divided by its characters) is exactly likra's per-character rule. `is_greedy` is the primary
head's (base for base/base_likra, pos for sft/likra): whether that head alone would generate the
continuation greedily. It is what lm-eval's `loglikelihood` tasks (lambada's acc) report; multiple-
choice metrics never read it.

Tokenization is likra's `encode_pair`, which follows lm-eval's HFLM (`_encode_pair`): trailing spaces
of the context move to the continuation, and an empty context is conditioned on BOS (EOS without
one), as HFLM's `prefix_token_id`. The context gets likra's model prefix (BOS where the model expects
it: models.load_model decides), which is what HFLM's `tok_encode` adds for tokenizers that put BOS
themselves. Requests too long for the model are cut from the left of the context, as HFLM does.
Only log-likelihood requests are supported: generation and rolling perplexity raise
NotImplementedError.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, replace
from typing import Any

try:
    from lm_eval.api.model import LM
    from lm_eval.api.registry import register_model
except ImportError as exc:  # lm-eval is optional for likra itself
    raise ImportError("likra's lm-eval model needs lm-evaluation-harness: pip install lm_eval==0.4.13") from exc

from likra.errors import ConfigError
from likra.integrations.model_args import LikraModelArgs, parse_model_args
from likra.scoring.engine import Request
from likra.scoring.rules import RULES

logger = logging.getLogger(__name__)
MODEL_NAME = "likra"
SUPPORTED_TASKS = ("multiple-choice and loglikelihood tasks (output_type multiple_choice or loglikelihood, "
                   "e.g. arc_challenge, hellaswag, winogrande, mmlu)")


@register_model(MODEL_NAME)
class LikraLM(LM):
    """lm-eval's `--model likra`: model args as in `LikraModelArgs` (likra.integrations.model_args)."""

    def __init__(self, **model_args: Any) -> None:
        args = parse_model_args(model_args)  # every arg checked before the model loads
        self._setup(args, _load(args))

    @classmethod
    def from_likra(cls, likra, mode: str = "base", weight: float | None = None,
                   batch_tokens: int | None = None) -> LikraLM:
        """An lm-eval model over an already loaded LikraModel (its heads at the checkpoint loaded
        now), for `simple_evaluate(model=LikraLM.from_likra(...))` without loading it again."""
        identity = getattr(likra.loaded, "identity", {}) or {}
        args = parse_model_args({"mode": mode, "weight": weight, "batch_tokens": batch_tokens,
                                 "run": str(likra.run_dir) if likra.run_dir else None,
                                 "pretrained": identity.get("spec") or type(likra.model).__name__})
        lm = cls.__new__(cls)
        lm._setup(args, likra)
        return lm

    def _setup(self, args: LikraModelArgs, likra) -> None:
        super().__init__()
        self.args, self.likra = args, likra
        self.heads, self._combine = RULES[args.rule]
        missing = [h for h in self.heads if h != "base" and h not in likra.heads]
        if missing:
            raise ConfigError(f"likra lm-eval model: mode={args.mode} needs head(s) {missing}, which run "
                              f"{likra.run_dir} does not have (it has {list(likra.heads)})", field="mode")
        # truncate=True: a request longer than the model's context is cut from the left, as HFLM does
        self.engine = likra.engine(batch_tokens=args.batch_tokens, truncate=True)
        self._device = self.engine.hf_model.device

    # ---- lm-eval's request types -------------------------------------------------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """(summed log-likelihood under the mode's rule, primary head's is_greedy) per request, in order.
        Requests are grouped by context, so a document's choices share its prompt's forward pass."""
        # the engine's own progress bar; lm-eval's flag switches it off
        self.engine.config = replace(self.engine.config, progress=not disable_tqdm)
        scores = self.engine.score_requests([Request(*req.args) for req in requests], self.heads,
                                            desc=f"likra {self.args.mode}")
        out = []
        for req, per_head in zip(requests, scores):
            loglik = self._combine({h: per_head[h].loglik for h in self.heads}, self.args.weight)
            result = (float(loglik), bool(per_head[self.heads[0]].is_greedy))
            self.cache_hook.add_partial("loglikelihood", req.args, result)  # lm-eval's --use_cache
            out.append(result)
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("likra's lm-eval model scores choices, not whole texts: perplexity tasks "
                                  f"(loglikelihood_rolling) are not supported; it supports {SUPPORTED_TASKS}")

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("likra's lm-eval model does not generate text: generation tasks (generate_until) "
                                  f"are not supported; it supports {SUPPORTED_TASKS}")

    def apply_chat_template(self, chat_history, add_generation_prompt: bool = True) -> str:
        raise NotImplementedError("likra's lm-eval model scores plain prompts, as likra trains its heads on "
                                  "them: --apply_chat_template is not supported")

    # ---- reporting ---------------------------------------------------------------------------
    def get_model_info(self) -> dict:
        """Merged by lm-eval into its results' config: which model, heads and rule produced them."""
        identity = getattr(self.likra.loaded, "identity", {}) or {}
        return {"likra": {**asdict(self.args), "heads_scored": list(self.heads),
                          "checkpoint_loaded": self.likra.checkpoint, "base_model": identity},
                "model_num_parameters": identity.get("n_params"), "model_dtype": identity.get("dtype")}


def _load(args: LikraModelArgs):
    from likra.models.likra_model import load_likra

    return load_likra(args.pretrained, args.run, _available(args.device), args.dtype, args.cache_dir,
                      checkpoint=args.checkpoint if args.run else None)


def _available(device: str) -> str:
    """`device`, or 'auto' where it is an accelerator this machine lacks. lm-eval 0.4.13's CLI passes
    device='cuda:0' to every model unless --device is given, and HFLM falls back the same way."""
    import torch

    if device == "auto":
        return device
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"likra lm-eval model: device={device!r} is not a torch device (cpu, cuda, cuda:1, mps)",
                          field="device") from None
    mps = getattr(torch.backends, "mps", None)
    missing = ((dev.type == "cuda" and (dev.index or 0) >= torch.cuda.device_count())
               or (dev.type == "mps" and not (mps is not None and mps.is_available())))
    if missing:
        logger.warning("device %r is not available here; likra picks one itself (device=auto)", device)
        return "auto"
    return device


def main(argv: list[str]) -> int:
    """lm-eval's own command line (`lm_eval.__main__.cli_evaluate`) with the `likra` model registered:
    `argv` is exactly what `lm-eval` takes. Returns the exit code; likra's own errors (bad model args,
    an unfinished run) propagate as LikraError for the caller to report."""
    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    # lm-eval 0.4.13's CLI parses sys.argv itself (HarnessCLI.parse_args takes no argument)
    sys.argv = ["likra lm-eval", *argv]
    try:
        cli_evaluate()
    except SystemExit as exc:  # argparse errors and --help
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return 0
