#!/usr/bin/env bash
# Reproduce the shipped demo model end to end on a CPU (the model runs at SIZE x SIZE, default 256):
#   1. pairs from ../shared/videos and shipped photos, styled by every built-in stylizer
#   2. latents (the shipped fast autoencoder) and MiniLM text embeddings in shards, at SIZE and at SIZE/2
#   3. stage 1 teacher (a SIZE/2 phase, then SIZE), stage 2 student (ODE pairs from the teacher),
#      stage 3 distillation, all at SIZE
#   4. the autoencoder's decoder fine-tuned on the final model's own latents (encoder frozen)
#   5. export to src/rtrdit/weights/demo (DEMO_OUT) and write its model card (held-out evaluation)
# Usage: bash scripts/train_demo.sh [--smoke]
#   --smoke: a few steps of each stage on one clip, to check the pipeline; it works in runs/demo_smoke and
#   writes its model and card to runs/demo_smoke/export, never over the shipped model.
# Environment: RUNS (work folder, default runs/demo), DEMO_OUT (where the model and card go), VIDEOS, SIZE,
#   STEPS_TEACHER / STEPS_STUDENT / STEPS_DISTILL / STEPS_DECODER (override each stage's steps).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/quickstart.sh setup
rtrdit=.venv/bin/rtrdit
videos=${VIDEOS:-../shared/videos}
smoke=false
[ "${1:-}" = "--smoke" ] && smoke=true
if $smoke; then runs=${RUNS:-runs/demo_smoke}; else runs=${RUNS:-runs/demo}; fi
if $smoke; then out=${DEMO_OUT:-$runs/export}; else out=${DEMO_OUT:-src/rtrdit/weights/demo}; fi
steps_teacher=${STEPS_TEACHER:-}
steps_student=${STEPS_STUDENT:-}
steps_distill=${STEPS_DISTILL:-}
steps_decoder=${STEPS_DECODER:-3000}
clips=8
styles=10  # every built-in style on every clip (balanced; `rtrdit data styles` lists them)
size=${SIZE:-256}
card_args=()
if $smoke; then
  steps_teacher=2; steps_student=2; steps_distill=2; steps_decoder=2; clips=1; styles=2
  card_args=(--max-clips 2 --ablation-seconds 4)
else
  card_args=(--ablation-seconds 120)
fi
max() { [ -n "$1" ] && echo "--max-steps $1" || true; }
# the stage configs name their folders under runs/demo; another work folder gets copies that name it instead
# (a smoke run always gets copies, without torch.compile: at two steps per stage the compiling would dominate)
configs=configs/demo
if [ "$runs" != "runs/demo" ] || $smoke; then
  configs=$runs/configs
  mkdir -p "$configs"
  for f in configs/demo/*.yaml; do sed "s#runs/demo/#${runs%/}/#g" "$f" > "$configs/$(basename "$f")"; done
  if $smoke; then sed -i "s/^  compile: true /  compile: false/" "$configs"/*.yaml; fi
fi

if [ ! -f "$runs/data/manifest.jsonl" ]; then
  $rtrdit data build "$videos" --package-images -o "$runs/data" --size "${size}x${size}" --frames 9 \
    --clips-per-video "$clips" --clips-per-image "$clips" --styles-per-clip "$styles" --val-fraction 0.25 --seed 0
fi
half=$((size / 2))
$rtrdit data encode "$runs/data/manifest.jsonl" -o "$runs/data/shards" --codec tiny --text-encoder minilm
$rtrdit data encode "$runs/data/manifest.jsonl" -o "$runs/data/shards_lowres" --size "${half}x${half}" \
  --codec tiny --text-encoder minilm
$rtrdit train teacher --config "$configs"/teacher_lowres.yaml $(max "$steps_teacher") --resume
$rtrdit train teacher --config "$configs"/teacher.yaml $(max "$steps_teacher") --resume
$rtrdit train student --config "$configs"/student.yaml $(max "$steps_student") --resume
$rtrdit train distill --config "$configs"/distill.yaml $(max "$steps_distill") --resume
# the stylizer as it will ship (float16 weights), so the decoder learns the latents users will get
$rtrdit train export --config "$configs"/distill.yaml -o "$runs/stylizer" --dtype float16 --switch-keep 0 --presets builtin \
  --overwrite
if [ ! -f "$runs/decoder/config.json" ]; then
  $rtrdit train decoder --model "$runs/stylizer" --data "$runs/data" --out "$runs/decoder" --steps "$steps_decoder"
fi
.venv/bin/python scripts/demo_model_card.py --runs "$runs" --out "$out" --size "$size" \
  --codec "$runs/decoder" "${card_args[@]}"
