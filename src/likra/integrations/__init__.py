"""Front doors into other tools' ecosystems.

- `likra.integrations.lm_eval`: lm-evaluation-harness model `likra` (importing it registers the model;
  needs lm_eval installed). See docs/LM_EVAL.md.
- `likra.integrations.local_tasks`: lm-eval task YAMLs over likra's local benchmark files
  (`write_local_tasks`), for `--include_path`. Stdlib only.

Nothing is imported here, so `import likra.integrations` needs neither torch nor lm-eval.
"""
