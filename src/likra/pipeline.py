"""A training run from config to saved heads: data -> pairs -> heads -> run.json.

This is the function `likra train` calls; a Python user calls it the same way.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from likra.config import DataConfig, TrainRunConfig
from likra.data.benchmarks import QuestionSet, load_questions, load_user_file
from likra.data.negatives import (TrainingPair, choice_groups, exclude_leaks, negative_pairs, positive_pairs,
                                  sample)
from likra.data.questions import Question
from likra.errors import ArtifactError, ConfigError, DataError, LengthError, RunStateError
from likra.distributed import barrier, is_main
from likra.io_utils import atomic_write_json, library_versions, read_json_object
from likra.models.likra_model import RUN_FILE
from likra.log import get_logger

_logger = get_logger(__name__)



@dataclass
class TrainingData:
    questions: list[Question]
    """Training questions after leak removal and sampling."""
    positives: list[TrainingPair]
    """(context, gold answer) pairs."""
    negatives: list[TrainingPair]
    """(context, wrong answer) pairs of the configured kind."""
    summary: dict
    """What was loaded, excluded and skipped: written to run.json and printed."""


def _log(msg: str) -> None:
    _logger.info(msg)


def _load_train_set(cfg: DataConfig) -> QuestionSet:
    if cfg.user_file:
        return load_user_file(cfg.user_file, lenient=cfg.lenient)
    return load_questions(cfg.benchmark, cfg.train_split, data_root=cfg.data_root, lenient=cfg.lenient)


def build_training_data(cfg: DataConfig, choice_scores: dict | None = None) -> TrainingData:
    """Load, remove evaluation questions, sample, and build balanced positive/negative pairs."""
    train_set = _load_train_set(cfg)
    eval_set = load_questions(cfg.eval_benchmark, cfg.eval_split, data_root=cfg.data_root, lenient=cfg.lenient)
    kept, leaks = exclude_leaks(list(train_set.questions), list(eval_set.questions))
    if not kept:
        raise DataError(f"no training questions left after removing {leaks}", path=str(train_set.source[0]))
    if cfg.n_train and cfg.n_train > len(kept):
        removed = len(train_set.questions) - len(kept)
        raise ConfigError(f"data.n_train: {cfg.n_train} training questions asked for, but {len(kept)} remain "
                          f"({len(train_set.questions)} loaded, {removed} removed as evaluation questions); ask for "
                          f"at most {len(kept)}, or omit it for all",
                          field="data.n_train")
    chosen = sample(kept, cfg.n_train, cfg.seed) if cfg.n_train else kept
    unrelated = None
    if cfg.negative_kind == "unrelated":
        unrelated = list(load_questions(cfg.unrelated_benchmark, "all", data_root=cfg.data_root,
                                        lenient=cfg.lenient).questions)
    negatives = negative_pairs(chosen, cfg.negative_kind, cfg.seed, strategy=cfg.negative_strategy,
                               choice_scores=choice_scores, unrelated_pool=unrelated)
    summary = {
        "train_source": [str(s) for s in train_set.source], "loaded": len(train_set.questions),
        "skipped_rows": str(train_set.skipped) if train_set.skipped else "none",
        "eval_source": [str(s) for s in eval_set.source], "eval_questions": len(eval_set.questions),
        "excluded_as_leaks": str(leaks), "after_leak_check": len(kept), "used": len(chosen),
        "negative_kind": cfg.negative_kind, "negative_strategy": cfg.negative_strategy,
    }
    return TrainingData(chosen, positive_pairs(chosen), negatives, summary)


def base_choice_scores(loaded, questions: list[Question], batch_tokens: int | None = None,
                       progress: bool = True) -> dict[str, list[float]]:
    """Per-character base-model scores of every choice: what 'hardest'/'easiest' near-misses rank by."""
    from likra.models.likra_model import LikraModel
    from likra.scoring.rules import choice_scores

    # Through the PEFT wrapper once heads are on: its adapters are injected into loaded.model, whose
    # base scores only its disable_adapter() gives.
    engine = LikraModel(loaded, loaded.peft_model or loaded.model).engine(batch_tokens=batch_tokens,
                                                                         progress=progress, truncate=True)
    table = engine.score(questions, ("base",))
    return {qid: scores for (_, qid), (scores, _) in choice_scores(table, "base", norm="char").items()}


BASE_SCORES_FILE = "base_choice_scores.json"
"""Where a hardest/easiest run keeps the base model's choice scores it ranked its near-misses by."""


def cached_base_choice_scores(loaded, questions: list[Question], path: Path, progress: bool = True,
                              also: tuple[Path, ...] = ()) -> dict:
    """base_choice_scores, kept beside the run: a resumed or rerun hardest/easiest run reads them back
    instead of scoring every training question again. Reused only for the same model and questions.
    `also`: where sibling runs keep theirs (a seed's hardest and easiest runs rank the same questions):
    one with the same key is read and copied beside this run, so each run still holds its own ranking."""
    from likra.data.questions import questions_digest

    key = {"model": loaded.scores_identity, "questions": questions_digest(questions)}
    for where in (path, *also):
        scores = _saved_ranking(where, key)
        if scores is not None:
            if where == path:
                return scores
            _log(f"data: the base model's ranking of the choices read from {where}")
            break
    else:
        if path.exists():
            _log(f"{path}: saved for another model or other questions; scoring again")
        scores = _rank_in_parts(loaded, questions, path, key, progress)
    if is_main():  # each run keeps its own ranking, a sibling's included
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"key": key, "scores": scores})
        partial_ranking(path).unlink(missing_ok=True)
    return scores


RANKING_PART = 512
"""Questions the base model ranks between two saves of a partial ranking."""


def partial_ranking(path: Path) -> Path:
    """Where a ranking under way keeps the parts it has scored (beside the finished ranking's file)."""
    return path.with_name(path.stem + ".partial.json")


def _rank_in_parts(loaded, questions: list[Question], path: Path, key: dict, progress: bool) -> dict:
    """base_choice_scores, RANKING_PART questions at a time, each part saved: a ranking stopped midway
    (minutes for ARC's 6604 on one core) resumes at its first unsaved part. The parts are fixed, so a
    resumed ranking equals one that ran through."""
    from tqdm.auto import tqdm

    partial = partial_ranking(path)
    scores = _saved_ranking(partial, key) or {}
    saved_at: list[float] = []  # when this process saved each part: `likra experiment status` tells the time left
    if scores:
        _log(f"data: resuming the base model's ranking: {len(scores)} of {len(questions)} questions saved in {partial}")
    if is_main():
        path.parent.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(questions), initial=len(scores), desc="ranking choices (base model)", unit="q",
              disable=not progress) as bar:  # one bar for all parts: each part's own would restart at 0
        for start in range(0, len(questions), RANKING_PART):
            part = questions[start:start + RANKING_PART]
            if all(q.id in scores for q in part):
                continue
            scores.update(base_choice_scores(loaded, part, progress=False))
            bar.update(len(part))
            if is_main():
                saved_at.append(round(time.time(), 1))
                atomic_write_json(partial, {"key": key, "questions": len(questions), "scores": scores,
                                            "saved_at": saved_at})
    return scores


def _saved_ranking(path: Path, key: dict) -> dict | None:
    """The scores saved at `path` under `key`; None when there are none, unreadable, or for another key."""
    if not path.exists():
        return None
    try:
        saved = read_json_object(path)
    except ArtifactError:
        return None
    return saved["scores"] if saved.get("key") == key else None


def apply_pair_lengths(data: TrainingData, loaded, policy: str) -> TrainingData:
    """Training examples longer than the model's context: an error listing them, or (policy 'skip')
    their questions left out of both heads, counted in the summary."""
    from likra.scoring.lengths import apply_length_policy, model_max_length
    from likra.ops.tokenize import encode_pair

    max_length = model_max_length(loaded.model)
    if max_length is None:
        return data
    longest: dict[str, int] = {}
    for p in (*data.positives, *data.negatives):
        ctx, ans = encode_pair(loaded.tokenizer, loaded.prefix_token_ids, p.context, p.answer)
        longest[p.source_id] = max(longest.get(p.source_id, 0), len(ctx) + len(ans))
    kept, rep = apply_length_policy(data.questions, [longest[q.id] for q in data.questions], max_length, policy,
                                    training=True)
    if not rep.too_long:
        return data
    if not kept:
        raise LengthError(f"every one of the {len(data.questions)} training questions has an example longer than "
                          f"the model's context of {max_length} tokens; nothing is left to train on")
    ids = {q.id for q in kept}
    summary = {**data.summary, "used": len(kept), "skipped_too_long": rep.skipped}
    return TrainingData(kept, [p for p in data.positives if p.source_id in ids],
                        [p for p in data.negatives if p.source_id in ids], summary)


def training_units(objective: str, data: TrainingData) -> dict[str, list]:
    """What each head trains on, as the objective compares examples: nll trains pos on the gold answers
    and neg on the wrong ones; a paired or unpaired objective trains one head on (gold, wrong) per
    question; a group objective on the gold and all the question's wrong choices."""
    from likra.training.objectives import OBJECTIVES

    layout = OBJECTIVES[objective].layout
    if layout == "single":
        return {"pos": data.positives, "neg": data.negatives}
    if layout == "group":
        return {"pos": choice_groups(data.questions)}
    wrong = {p.source_id: p for p in data.negatives}  # one negative per question, of the configured kind
    return {"pos": [(p, wrong[p.source_id]) for p in data.positives]}


_UNSHAPING = {("model", "device"), ("model", "cache_dir")}  # settings that do not change what is trained


def _previous_record(out_dir: Path, cfg: TrainRunConfig, resume: bool) -> dict:
    """The run record already in `out_dir`. Resuming into a folder trained with other settings is an
    error naming the first difference; --no-resume clears the old heads so none is mixed in."""
    path = out_dir / RUN_FILE
    if not path.exists():
        return {}
    if not resume:
        import shutil

        from likra.locks import holder, lock_path

        busy = [h for h in cfg.heads if holder(lock_path(out_dir / h))]
        if busy:  # never remove a head another process is training
            raise RunStateError(f"{out_dir}: --no-resume would remove head(s) {', '.join(busy)}, which another likra "
                                f"process is training now (see {lock_path(out_dir / busy[0])}); stop it first")
        for head in cfg.heads:
            if (out_dir / head).exists() and is_main():
                _log(f"--no-resume: removing the earlier {head} head in {out_dir / head}")
                shutil.rmtree(out_dir / head)
        return {}
    old = _read_record(path)
    new = json.loads(json.dumps(asdict(cfg)))
    default = json.loads(json.dumps(asdict(TrainRunConfig())))
    for section, values in new.items():
        for key, value in (values.items() if isinstance(values, dict) else [(None, values)]):
            # a setting added to likra after the run was made reads as its default (what the run did)
            saved = old["config"].get(section, default[section])
            before = saved.get(key, default[section][key]) if key else saved
            if (section, key) not in _UNSHAPING and before != value:
                name = f"{section}.{key}" if key else section
                raise RunStateError(f"{out_dir}: a run with other settings is saved here ({name}: {before!r}, now "
                                    f"{value!r}); use another --out, or --no-resume to replace it")
    return old


def _read_record(path: Path) -> dict:
    record = read_json_object(path, "use another --out, or --no-resume to start over")
    if not isinstance(record.get("config"), dict):
        raise ArtifactError("not a likra run record (no 'config')", path=str(path))
    return record


def train_run(cfg: TrainRunConfig, out_dir: str | Path, resume: bool = True, progress: bool = True,
              loaded=None, rankings: tuple[Path, ...] = ()) -> dict:
    """Train the configured heads and write run.json (config, data summary, losses, versions).

    The data is read and checked before the model loads and before `out_dir` is made, so a bad file
    leaves nothing behind. `loaded` (a LoadedModel) skips loading the model again. `rankings`: other
    runs' saved base rankings a hardest/easiest run may reuse (cached_base_choice_scores' `also`).
    """
    import torch

    from likra.models.heads import heads_on
    from likra.models.loading import load_model
    from likra.training.trainer import HeadTrainer

    out_dir = Path(out_dir)
    t0 = time.time()
    hardest = cfg.data.negative_kind == "near-miss" and cfg.data.negative_strategy != "random"
    data = build_training_data(replace(cfg.data, negative_strategy="random") if hardest else cfg.data)
    if data.summary["skipped_rows"] != "none":
        _logger.warning(f"data: {data.summary['skipped_rows']}")  # rows left out: shown even with --quiet
    if loaded is None:
        loaded = load_model(cfg.model.spec, cfg.model.device, cfg.model.dtype, cfg.model.cache_dir)
        _log(f"model: {loaded.identity.get('spec')} ({loaded.identity.get('n_params', 0) / 1e6:.0f}M params) "
             f"on {loaded.identity.get('device')} in {time.time() - t0:.0f}s")
    if hardest:
        scores = cached_base_choice_scores(loaded, data.questions, out_dir / BASE_SCORES_FILE, progress, rankings)
        data = build_training_data(cfg.data, scores)
    data = apply_pair_lengths(data, loaded, cfg.data.length_policy)
    _log(f"data: {data.summary['used']} training questions; leaks removed: {data.summary['excluded_as_leaks']}"
         + (f"; {data.summary['skipped_too_long']} too long for the model, skipped"
            if "skipped_too_long" in data.summary else ""))
    versions = library_versions()
    previous = _previous_record(out_dir, cfg, resume)
    # versions and seconds describe the sessions that trained: reusing a finished run changes neither
    record = {"config": asdict(cfg), "base_model": loaded.identity, "data": data.summary,
              "versions": previous.get("versions", versions), "heads": {}}
    barrier()  # every process has read the old record and state before the main one replaces them
    record["heads"] = {h: r for h, r in previous.get("heads", {}).items() if h in cfg.heads}
    write = atomic_write_json if is_main() else (lambda *a: None)  # data parallel: the main process writes
    out_dir.mkdir(parents=True, exist_ok=True)
    write(out_dir / RUN_FILE, record)  # the run's heads are known from the start
    torch.manual_seed(cfg.train.seed)
    model = heads_on(loaded, cfg.lora, seed=cfg.train.seed)
    pairs = training_units(cfg.train.objective.name, data)
    trained = False
    for head in cfg.heads:
        trainer = HeadTrainer(model, loaded.tokenizer, loaded.prefix_token_ids, head, out_dir / head, cfg.train,
                              base_identity=loaded.identity, progress=progress,
                              # what each head's model card states: the data, its settings and the run's heads
                              data_info={**data.summary, "config": asdict(cfg.data), "heads": list(cfg.heads)})
        t = time.time()
        before = record["heads"].get(head, {})
        result = trainer.train(pairs[head], resume=resume)
        if result.steps_now == 0 and before:  # reused as saved
            record["heads"][head] = {**before, "versions": before.get("versions", record["versions"])}
        else:
            trained = True
            record["versions"] = versions
            earlier = before.get("seconds", 0) if result.steps > result.steps_now else 0  # resumed, not restarted
            record["heads"][head] = {**asdict(result), "seconds": round(time.time() - t + earlier, 1),
                                     "versions": versions}
        write(out_dir / RUN_FILE, record)
    record["seconds"] = round(previous.get("seconds", 0) + (time.time() - t0 if trained else 0), 1)
    write(out_dir / RUN_FILE, record)
    barrier()
    return record
