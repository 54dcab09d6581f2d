#!/usr/bin/env bash
# npm test: every test of the project, in order of how fast each stage fails.
#   1. TypeScript of the tests (tsc, strict)
#   2. unit tests of the plain C++ core (test/native, g++)
#   3. lint (npm run lint): eslint, prettier --check, clang-format --check
#   4. sanitizers (scripts/sanitize.sh): the unit tests under ASan + UBSan,
#      the fuzz targets over their regressions and seeds and then for
#      FUZZ_SECONDS (default 15) each, valgrind over offline passes
#   5. the mocha suite: captures, CLI, DogStatsD, live network namespaces
#      (the live tests skip with the reason printed when not root)
#   6. the benchmark harness on tiny files (npm run bench:smoke): the harness
#      works and accuracy holds; figures from it mean nothing
# Extra arguments go to mocha (for example --grep live).
set -euo pipefail
cd "$(dirname "$0")/.."

stage() { printf '\n== %s\n' "$*"; }

stage "build the tests (tsc)"
npm run --silent build:test

stage "native unit tests (test/native)"
make -s -C test/native check

stage "lint (npm run lint)"
npm run --silent lint

stage "sanitizers and fuzzing (scripts/sanitize.sh)"
bash scripts/sanitize.sh --fuzz-seconds "${FUZZ_SECONDS:-15}"

stage "mocha"
npx mocha "$@"

stage "benchmark harness smoke (npm run bench:smoke)"
npm run --silent bench:smoke
