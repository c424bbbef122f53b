#!/usr/bin/env bash
# The experiment runs two CPU cores cannot finish, for a session that is lent a GPU (docs/BENCHMARKS.md,
# "Experiments on the lent GPU"): most valuable first, all inside one time budget, so that a step cut
# off by the budget still leaves the ones before it done (each experiment resumes if called again while
# the machine is warm). Only the records travel back: NAME.json/.csv/.md/.png of each folder under $OUT.
#
#   BUDGET   seconds for the whole script (default 540: a device call may last 600)
#   MODELS   folder of the .gguf files (default /root/x/models, where gpu_carry.py unpacks them)
#   WORK     experiment folders (default /root/x/exp: heads and score tables stay on the machine)
#   EXTRA    flags added to every experiment, e.g. "--n-train 8 --limit 5 --seeds 0" for a dry run
set -u
BUDGET=${BUDGET:-540}
M=${MODELS:-/root/x/models}
W=${WORK:-/root/x/exp}
OUT=${OUT:?set OUT: the folder whose files come back}
EXTRA=${EXTRA:-}
start=$(date +%s)

run() {  # one experiment, inside what is left of the budget; a failure or a cut does not stop the rest
  local left=$(( BUDGET - ($(date +%s) - start) ))
  if [ "$left" -lt 60 ]; then echo "skipped, budget spent: $*"; return 0; fi
  echo "== $* (${left}s left)"
  # shellcheck disable=SC2086  # EXTRA is a list of flags
  timeout "$left" python3 -m likra --quiet experiment "$@" $EXTRA || echo "stopped or failed (exit $?): $*"
}

SMOL=$M/SmolLM2-135M-Instruct.Q4_1.gguf
GEMMA=$M/gemma-3-270m-q4_k_m.gguf
QWEN=$M/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
ALL="--limit all --seeds 0,1,2"  # all 1172 ARC-Challenge test questions, three seeds, the full training set

# most valuable first (what is still open in docs/RESULTS.md): Qwen, which no CPU session can run, then
# Gemma's full training set (about 10 core-hours a seed on one CPU core), then SmolLM2 on all 1172
# questions; each later step reuses the heads the earlier ones trained into the same folder
run curve      --model "$QWEN"  --out "$W/qwen1.5b-arc-full" $ALL
run weights    --model "$QWEN"  --out "$W/qwen1.5b-arc-full" $ALL
run curve      --model "$GEMMA" --out "$W/gemma3-arc-full" $ALL
run weights    --model "$GEMMA" --out "$W/gemma3-arc-full" $ALL
run likelihoods --model "$GEMMA" --out "$W/gemma3-arc-full" $ALL
run mass       --model "$GEMMA" --out "$W/gemma3-arc-full" $ALL
run negatives  --model "$GEMMA" --out "$W/gemma3-arc-full" $ALL --negative-kinds near-miss,hardest,easiest,irrelevant,unrelated
run curve      --model "$SMOL"  --out "$W/smollm2-arc-full" $ALL
run objectives --model "$SMOL"  --out "$W/smollm2-arc-full" $ALL   # issue 13: six objectives, three seeds
run table --out "$W"

for d in "$W" "$W"/*/; do  # the records, not the heads or the score tables
  dest="$OUT/exp/$(basename "$d")"
  mkdir -p "$dest"
  cp -f "$d"/*.json "$d"/*.csv "$d"/*.md "$d"/*.png "$dest"/ 2>/dev/null || true
done
echo "done in $(( $(date +%s) - start ))s; records in $OUT/exp"
