#!/usr/bin/env bash
# C++ layout with clang-format, as .clang-format says (npm run lint / format).
#   scripts/clang-format.sh           rewrites every C++ file of the tree
#   scripts/clang-format.sh --check   rewrites nothing; lists each file that
#                                     differs and how many lines would change,
#                                     exit status 1 if any does
# Files: *.cc and *.h that git tracks or would track (not build output).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang-format >/dev/null; then
  echo "clang-format is not installed: apt-get install clang-format (scripts/setup-debian.sh --test installs it)" >&2
  exit 2
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | sort -u)
else
  mapfile -t files < <(find . -path ./node_modules -prune -o -path ./build -prune -o \( -name '*.cc' -o -name '*.h' \) -print | sort)
fi

if [[ "${1:-}" != "--check" ]]; then
  for f in "${files[@]}"; do [[ -f "$f" ]] && clang-format -i "$f"; done
  exit 0
fi

bad=0
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue
  n=$(clang-format "$f" | diff "$f" - | grep -c '^[<>]' || true)
  if ((n > 0)); then
    echo "$f: not as clang-format lays it out ($n lines removed or added; npm run format rewrites it)"
    bad=1
  fi
done
exit "$bad"
