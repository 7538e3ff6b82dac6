#!/usr/bin/env bash
# Batch analysis for a fleet or a cluster node: every video under IN, results under OUT, one
# alert log per node, as many parallel jobs as cores. Each video's results go to
# OUT/<its path relative to IN>/ (a/cam.avi and b/cam.avi never collide). Safe to re-run:
# videos with finished results of the same content (SHA-256) are skipped; interrupted or
# failed ones are redone.
#   deploy/analyze_folder.sh IN OUT [JOBS]
set -euo pipefail
in=${1:?usage: analyze_folder.sh IN OUT [JOBS]}
out=${2:?usage: analyze_folder.sh IN OUT [JOBS]}
jobs=${3:-$(nproc)}
drowsy=${DROWSY:-drowsy}
mkdir -p "$out"
videos=()
while IFS= read -r -d '' video; do
  videos+=("$video")
done < <(find "$in" -type f \( -iname '*.mp4' -o -iname '*.avi' -o -iname '*.mov' -o -iname '*.mkv' \) -print0 | sort -z)
if [ ${#videos[@]} -eq 0 ]; then
  echo "no videos under $in"
  exit 0
fi
exec "$drowsy" analyze "${videos[@]}" --out "$out" --input-root "$in" --skip-done \
  --jobs "$jobs" --log "$out/alerts.sqlite" --quiet
