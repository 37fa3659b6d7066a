#!/usr/bin/env bash
# Conformance test: the official @fal-ai/client@1.10.1 against a freshly started fal-emulator.
# Usage: run-conformance.sh BIN_DIR MEDIA_DIR WORK_DIR
# Installs the pinned client with `npm ci` into WORK_DIR (reinstalls only when the lock file
# changed), starts the emulator on a free port, runs conformance.mjs, stops the emulator.
set -euo pipefail
bin_dir=$1
media_dir=$2
work_dir=$3
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$work_dir"
cp "$here/package.json" "$here/conformance.mjs" "$work_dir/"
if [ ! -f "$here/package-lock.json" ]; then
  # Without the committed lock only the client itself is pinned (package.json says 1.10.1).
  echo "warning: $here/package-lock.json missing; installing without a lock" >&2
  if [ ! -f "$work_dir/node_modules/@fal-ai/client/package.json" ]; then
    (cd "$work_dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
  fi
elif ! cmp -s "$here/package-lock.json" "$work_dir/package-lock.installed" ||
   [ ! -f "$work_dir/node_modules/@fal-ai/client/package.json" ]; then
  cp "$here/package-lock.json" "$work_dir/package-lock.json"
  (cd "$work_dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$work_dir/package-lock.installed"
fi
installed=$(node -p "require('$work_dir/node_modules/@fal-ai/client/package.json').version")
if [ "$installed" != "1.10.1" ]; then
  echo "expected @fal-ai/client 1.10.1, found $installed" >&2
  exit 1
fi

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/fal-conformance-XXXXXX")
emulator_pid=
cleanup() {
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; wait "$emulator_pid" 2>/dev/null || true; fi
  rm -rf "$run_dir"
}
trap cleanup EXIT

key="conformance-$RANDOM$RANDOM"
# A queue delay long enough to cancel a queued request and to see IN_QUEUE; a processing time
# long enough that polling sees IN_PROGRESS with logs.
"$bin_dir/fal-emulator" --listen 127.0.0.1:0 --key "$key" --storage-dir "$run_dir/storage" \
  --request-log "$run_dir/requests.jsonl" --queue-delay-ms 1500 --processing-ms 1200 \
  >"$run_dir/emulator.out" 2>"$run_dir/emulator.err" &
emulator_pid=$!
url=
for _ in $(seq 1 200); do
  url=$(sed -n 's/^listening on \(http[^ ]*\)$/\1/p' "$run_dir/emulator.out")
  [ -n "$url" ] && break
  kill -0 "$emulator_pid" 2>/dev/null || break
  sleep 0.05
done
if [ -z "$url" ]; then
  echo "fal-emulator did not start:" >&2
  cat "$run_dir/emulator.out" "$run_dir/emulator.err" >&2
  exit 1
fi

status=0
EMULATOR_URL="$url" EMULATOR_KEY="$key" REQUEST_LOG="$run_dir/requests.jsonl" \
  MEDIA_DIR="$media_dir" SCRATCH_DIR="$run_dir" node "$work_dir/conformance.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  echo "---- fal-emulator stderr ----" >&2
  tail -n 50 "$run_dir/emulator.err" >&2
fi
exit "$status"
