#!/usr/bin/env bash
# How much of the core a fuzz corpus reaches: each target rebuilt with
# clang's source-based coverage (no sanitizers), run once over its working
# corpus (out/corpus/<target>) and seeds (out/seeds/<target>), then
# llvm-cov's per-file report of the src-native files it links.
#
#   fuzz/coverage.sh                 both targets
#   fuzz/coverage.sh fuzz_engine     one
#   COVERAGE_SHOW=1 fuzz/coverage.sh fuzz_decode   also the annotated source (what no input reached)
#
# Needs a corpus (fuzz/run.sh makes one) and llvm-14 (clang, llvm-profdata-14, llvm-cov-14).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

targets=()
for a in "$@"; do
  case "$a" in
    fuzz_decode | fuzz_engine) targets+=("$a") ;;
    *) echo "usage: fuzz/coverage.sh [fuzz_decode] [fuzz_engine]" >&2; exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_decode fuzz_engine)

cxx="$(command -v clang++-14 || command -v clang++)"
profdata="$(command -v llvm-profdata-14 || command -v llvm-profdata)"
cov="$(command -v llvm-cov-14 || command -v llvm-cov)"
declare -A sources=(
  [fuzz_decode]="../src-native/decode.cc ../src-native/addr.cc"
  [fuzz_engine]="../src-native/addr.cc ../src-native/decode.cc ../src-native/engine.cc ../src-native/flow_table.cc ../src-native/orient.cc ../src-native/pairs.cc ../src-native/sampler.cc"
)
mkdir -p out/cov
for t in "${targets[@]}"; do
  [[ -d "out/corpus/$t" || -d "out/seeds/$t" ]] || { echo "no corpus for $t: run fuzz/run.sh first" >&2; exit 1; }
  read -r -a srcs <<<"${sources[$t]}"
  "$cxx" -std=c++17 -O1 -g -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
    -o "out/cov/$t" "$t.cc" "${srcs[@]}"
  dirs=()
  for d in "out/corpus/$t" "out/seeds/$t"; do [[ -d "$d" ]] && dirs+=("$d"); done
  inputs="$(find "${dirs[@]}" -type f | wc -l)"
  rm -f "out/cov/$t.profraw"
  LLVM_PROFILE_FILE="out/cov/$t.profraw" "./out/cov/$t" -runs=0 "${dirs[@]}" >/dev/null 2>&1
  "$profdata" merge -sparse -o "out/cov/$t.profdata" "out/cov/$t.profraw"
  echo "== $t: $inputs inputs"
  "$cov" report "out/cov/$t" -instr-profile="out/cov/$t.profdata" "${srcs[@]}"
  if [[ "${COVERAGE_SHOW:-0}" == 1 ]]; then
    "$cov" show "out/cov/$t" -instr-profile="out/cov/$t.profdata" -show-line-counts-or-regions "${srcs[@]}"
  fi
done
