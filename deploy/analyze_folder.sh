#!/usr/bin/env bash
# Batch analysis for a fleet or a cluster node: every video under IN, results under OUT, one
# alert log per node, as many parallel jobs as cores. Safe to re-run: finished videos (with a
# summary.json) are skipped.
#   deploy/analyze_folder.sh IN OUT [JOBS]
set -euo pipefail
in=${1:?usage: analyze_folder.sh IN OUT [JOBS]}
out=${2:?usage: analyze_folder.sh IN OUT [JOBS]}
jobs=${3:-$(nproc)}
drowsy=${DROWSY:-drowsy}
mkdir -p "$out"
todo=()
while IFS= read -r -d '' video; do
  stem=$(basename "${video%.*}")
  [ -f "$out/$stem/summary.json" ] || todo+=("$video")
done < <(find "$in" -type f \( -iname '*.mp4' -o -iname '*.avi' -o -iname '*.mov' -o -iname '*.mkv' \) -print0)
if [ ${#todo[@]} -eq 0 ]; then
  echo "nothing to do"
  exit 0
fi
exec "$drowsy" analyze "${todo[@]}" --out "$out" --jobs "$jobs" --log "$out/alerts.sqlite" --quiet
