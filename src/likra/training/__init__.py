"""Training one head: the trainer (answer-only loss, constant LR, power-of-two checkpoints, resume), the
objectives it is given (nll, unlikelihood, dpo, simpo, orpo, kto, infonca), and how a step's examples
become tensors (batching)."""
