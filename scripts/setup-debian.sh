#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages passive-rtt needs, then the npm
# dependencies (which build the addon and the TypeScript).
#   scripts/setup-debian.sh          runtime: libpcap, and a compiler for the addon
#                                    (its headers too: bench/ links libpcap, and a test
#                                    checks src-native/pcap_api.h against them)
#   scripts/setup-debian.sh --test   also what the test suite uses: tshark, tcpdump,
#                                    tcpreplay, iproute2, strace, clang/libFuzzer, valgrind,
#                                    clang-format (npm run lint)
# Run as root (or through sudo). Packages already installed are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libpcap0.8 libpcap-dev g++ make python3)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(tshark tcpdump tcpreplay iproute2 procps util-linux strace clang libclang-rt-14-dev libfuzzer-14-dev valgrind clang-format)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm run --silent build
fi
