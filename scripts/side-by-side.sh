#!/usr/bin/env bash
# One command, one video: original | lip-synced, side by side, with the drive speech.
#   scripts/side-by-side.sh VIDEO OUT.mp4 [SPEECH]
# SPEECH: the speech the lips should follow (default: the clip's own audio, i.e. reconstruction).
# Runs `lipsync dub --stage lipsync`, then stacks the original (resampled to 25 fps) left of the result with ffmpeg.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 VIDEO OUT.mp4 [SPEECH]" >&2
  exit 2
fi
video=$1
out=$2
speech=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=(dub --video "$video" --out "$tmp/dubbed.mp4" --stage lipsync --quiet)
if [ -n "$speech" ]; then args+=(--audio "$speech"); fi
node "$here/bin/lipsync.mjs" "${args[@]}"
ffmpeg -loglevel error -y -i "$video" -i "$tmp/dubbed.mp4" \
  -filter_complex "[1:v]split[b][ref];[0:v]fps=25[a0];[a0][ref]scale2ref[a][b2];[a][b]hstack=inputs=2[v]" \
  -map "[v]" -map 1:a -c:v libx264 -crf 20 -pix_fmt yuv420p -c:a aac -shortest "$out" 2>/dev/null ||
  ffmpeg -loglevel error -y -i "$video" -i "$tmp/dubbed.mp4" \
    -filter_complex "[0:v]fps=25[a];[a][1:v]hstack=inputs=2[v]" \
    -map "[v]" -map 1:a -c:v libx264 -crf 20 -pix_fmt yuv420p -c:a aac -shortest "$out"
echo "wrote $out (left: original, right: lip-synced)"
