#!/usr/bin/env bash
# Builds the libFuzzer targets, builds the seed corpus from the fixtures,
# replays the regression inputs, then fuzzes each target for a bounded time.
#
#   fuzz/run.sh                     every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=20 fuzz/run.sh     the short CI run
#   fuzz/run.sh --replay            regressions and seed corpus only (no fuzzing)
#   fuzz/run.sh fuzz_engine         one target
#   FUZZ_RUNS=10000000 fuzz/run.sh  stop each target after this many executions
#                                   (the long run; FUZZ_SECONDS then defaults to 6 h)
#   FUZZ_TIMEOUT=600 fuzz/run.sh    seconds one input may take before it counts as
#                                   a hang (default 10). libFuzzer measures wall
#                                   time: on a busy shared machine a long run can
#                                   be starved that long, and then reports an input
#                                   that replays in milliseconds.
#
# Working corpora and crash artifacts go to fuzz/out/ (not committed). A
# crash leaves its input in fuzz/out/artifacts/; copy it into
# fuzz/regressions/<target>/ once the bug is fixed so it is replayed forever.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

replay_only=0
targets=()
for a in "$@"; do
  case "$a" in
    --replay) replay_only=1 ;;
    fuzz_decode | fuzz_engine) targets+=("$a") ;;
    *) echo "usage: fuzz/run.sh [--replay] [fuzz_decode] [fuzz_engine]" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_decode fuzz_engine)

runs="${FUZZ_RUNS:-}"
if [[ -n "$runs" ]]; then seconds="${FUZZ_SECONDS:-21600}"; else seconds="${FUZZ_SECONDS:-60}"; fi

make -s -j2 -C "$here" all
# Seeds: the bundled captures (go-metro's test captures).
rm -rf out/seeds
python3 make-corpus.py out/seeds ../examples/captures/*.pcap

declare -A max_len=([fuzz_decode]=4096 [fuzz_engine]=8192)
status=0
for t in "${targets[@]}"; do
  mkdir -p "out/corpus/$t" out/artifacts "regressions/$t"
  # Regression mode: every input runs once; any report fails the run.
  mapfile -t reg < <(find "regressions/$t" -type f ! -name '.*' | sort)
  if ((${#reg[@]})); then
    echo "== $t: ${#reg[@]} regression input(s)"
    "./out/$t" -runs=1 "${reg[@]}" 2>&1 | tail -n 1
  fi
  echo "== $t: seed corpus"
  "./out/$t" -runs=0 -max_len="${max_len[$t]}" "out/seeds/$t" 2>&1 | grep -E '^#[0-9]+[[:space:]]+DONE' || true
  ((replay_only)) && continue

  log="out/$t.log"
  echo "== $t: fuzzing ${runs:+$runs runs, at most }${seconds} s"
  set +e
  "./out/$t" -max_total_time="$seconds" ${runs:+-runs="$runs"} -max_len="${max_len[$t]}" \
    -print_final_stats=1 -artifact_prefix="out/artifacts/$t-" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
    "out/corpus/$t" "out/seeds/$t" >"$log" 2>&1
  rc=$?
  set -e
  # The last status line and libFuzzer's final stats.
  grep -E '^#[0-9]+' "$log" | tail -n 1 || true
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | tr '\n' ' '
  echo
  if ((rc != 0)); then
    echo "!! $t failed (exit $rc): see fuzz/$log and fuzz/out/artifacts/" >&2
    grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" | head -n 5 >&2 || true
    status=1
  fi
done
exit $status
