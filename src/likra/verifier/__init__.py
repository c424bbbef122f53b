"""The verifier: judge one candidate answer at a time, with a calibrated probability of being correct.

  cases.py        (question, answer, is it correct) from TruthfulQA.csv or Question lists; folds by question
  features.py     every case's log-likelihoods in batched engine calls; rule scores (base, pmi, sft, likra, ...)
  calibration.py  Platt scaling, the flag threshold, cross-fitting; saved as JSON
  metrics.py      AUROC, MC1, MC2, ECE, Brier, reliability bins, the flag's precision and recall
  run.py          verify_eval: the measured evaluation, written to a folder
  answers.py      verify_answers: the verifier in use (what `likra verify` prints)
  command.py      `likra verify` and `likra verify calibrate`
Nothing here imports torch until a model scores (docs/VERIFY.md).
"""
