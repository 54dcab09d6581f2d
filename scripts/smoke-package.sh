#!/bin/sh
# Installs a packed passive-rtt (npm pack) into an empty directory the way a
# user's `npm install` would, but with --ignore-scripts and PREBUILDS_ONLY=1,
# so that nothing can be compiled: the prebuild for this platform must load
# and the CLI must measure the bundled capture exactly.
#   scripts/smoke-package.sh passive-rtt-0.1.0.tgz [capture.pcap]
# The capture defaults to examples/captures/http-request.pcap beside this
# script. Needs node, npm and libpcap; POSIX sh, so it runs on Alpine too.
# The release workflow runs it on every platform a prebuild is made for.
set -eu

if [ $# -lt 1 ]; then
  echo "usage: $0 PACKAGE.tgz [CAPTURE.pcap]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
tarball=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
capture=${2:-$here/../examples/captures/http-request.pcap}
capture=$(cd "$(dirname "$capture")" && pwd)/$(basename "$capture")

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
echo '{"name":"smoke","version":"1.0.0","private":true}' >package.json
npm install --ignore-scripts --no-audit --no-fund --no-package-lock "$tarball" >npm.log 2>&1 || {
  cat npm.log >&2
  exit 1
}
pkg=node_modules/passive-rtt
if [ -e "$pkg/build" ]; then
  echo "smoke: $pkg/build exists: something was compiled" >&2
  exit 1
fi

export PREBUILDS_ONLY=1
node -e '
  const pkg = require("path").resolve(process.argv[1]);
  const file = require("node-gyp-build").path(pkg);
  if (!file.startsWith(pkg + "/prebuilds/")) throw new Error("loaded " + file + ", not a prebuild");
  const { libpcap } = require("passive-rtt");
  const lib = libpcap();
  console.log("smoke: " + process.platform + "-" + process.arch + " node " + process.version + ": " + file.slice(pkg.length + 1) + ", " + lib.library + " (" + lib.version + ")");
' "$pkg"

node_modules/.bin/passive-rtt --pcap "$capture" --local 192.168.1.116 --format json --samples >out.jsonl
node -e '
  const lines = require("fs").readFileSync("out.jsonl", "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const got = lines.filter((l) => l.type === "sample").map((l) => l.kind + " " + l.rtt_ms).join(", ");
  const want = "handshake 74.599, data 72.322, ts 69.204, data 74.253";
  if (got !== want) throw new Error("samples: " + got + "; expected " + want);
  const r = lines.find((l) => l.type === "report");
  if (!r || r.samples !== 4 || r.p50_ms !== 72.322) throw new Error("report: " + JSON.stringify(r));
  console.log("smoke: " + got + " ms; report p50 " + r.p50_ms + " ms, avg " + r.avg_ms.toFixed(3) + " ms");
'
