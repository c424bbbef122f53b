"""`likra verify in-fold`: the verifier's second regime from the command line (verifier/infold.py).
Everything is read and checked before the model loads."""

from __future__ import annotations

from pathlib import Path

from likra.errors import ConfigError


def in_fold(a) -> int:
    from likra.config import TrainConfig
    from likra.models.loading import load_model
    from likra.verifier.cases import read_truthfulqa, truthfulqa_cases
    from likra.verifier.command import FOLDS, format_summary
    from likra.verifier.infold import verify_in_fold

    if a.run or a.checkpoint != "final":
        raise ConfigError("likra verify in-fold trains its own heads, one run per fold: give --model, not --run "
                          "or --checkpoint")
    if not a.model or not a.out:
        raise ConfigError("likra verify in-fold: give --model (the base model) and --out (where the fold runs "
                          "and the report go)")
    folds = FOLDS if a.folds is None else a.folds
    if folds < 2:
        raise ConfigError(f"--folds: at least 2, got {folds}")
    if a.limit is not None and a.limit < 1:
        raise ConfigError(f"--limit: at least 1, got {a.limit}")
    source = a.cases or "truthfulqa"
    cases = (truthfulqa_cases(a.data_root, limit=a.limit) if source == "truthfulqa"
             else read_truthfulqa(source, limit=a.limit))
    if folds > cases.n_questions:
        raise ConfigError(f"--folds {folds}: more folds than questions ({cases.n_questions})")
    seed = a.train_seed or 0
    train = TrainConfig(lr=1e-4 if a.lr is None else a.lr, batch_size=a.batch_size or 8, seed=seed, curve=False)
    loaded = load_model(a.model, a.device or "auto", a.dtype or "auto", a.cache_dir)
    report = verify_in_fold(loaded, cases, folds, Path(a.out), model=a.model, train=train, data_seed=seed,
                            fold_seed=a.seed or 0, weight=1.0 if a.weight is None else a.weight,
                            norm=a.norm or "char", rules=[a.rule] if a.rule else None, data_root=a.data_root,
                            progress=not getattr(a, "quiet", False), batch_tokens=a.batch_tokens)
    print(format_summary(report))
    out = Path(a.out)
    print(f"report: {out / 'verify.json'}  cases: {out / 'cases.csv'}  plot: {out / 'reliability.png'}")
    return 0
