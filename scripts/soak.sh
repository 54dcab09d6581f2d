#!/usr/bin/env bash
# Soak (issue "Hardening"): one live monitor for SOAK_SECONDS (default 780)
# of generated traffic, replayed in real time by tcpreplay onto a veth pair
# in a network namespace made for the run and removed after it. Then the
# verdict (test/hardening-helpers/soak-check.ts): RSS flat after the warm-up
# (within 5 %), a report every interval and on time, counters consistent
# with each other, with what tcpreplay sent and with the generator's ground
# truth.
#
# Why live and not a file read in a loop: the soak is about the process an
# operator runs for months, so it runs the live path end to end (the
# TPACKET ring, the capture thread's poll and wall-clock report clock, the
# non-blocking hand-off that folds when JavaScript lags, pcap_stats), at the
# capture's own pace, with timestamps that simply keep going. One long
# generated capture (bench/gen: thousands of concurrent flows over IPv4 and
# IPv6, handshakes, loss, reordering, delayed ACKs, timestamps, downloads,
# flows closing and new ones taking their place) is replayed once rather
# than a short one looped, so that no flow sees its own sequence numbers
# again and the ground truth still holds for the whole run.
#
#   scripts/soak.sh                      13 minutes (bench/gen --rate 2000, which
#                                        comes out near 2600 packets/s): a 3-minute
#                                        warm-up, then 10 minutes that must be flat
#   SOAK_SECONDS=120 SOAK_WARMUP=40 scripts/soak.sh   a shorter run
# The rate is one tcpreplay keeps here at nice 10 next to other work.
# Other knobs: SOAK_PPS, SOAK_FLOWS, SOAK_HOSTS, SOAK_INTERVAL (report
# interval, s), SOAK_WARMUP (s), SOAK_KEEP=1 (keep the work directory).
# Needs root, iproute2, tcpreplay, g++ and a build (npm run build and
# npm run build:test). Runs at nice 10.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SOAK_SECONDS:-780}"
pps="${SOAK_PPS:-2000}"
flows="${SOAK_FLOWS:-2000}"
hosts="${SOAK_HOSTS:-1000}"
interval="${SOAK_INTERVAL:-10}"
warmup="${SOAK_WARMUP:-180}"
timeout_ms=200

[[ $(id -u) -eq 0 ]] || { echo "soak.sh: needs root (a network namespace and a live capture)" >&2; exit 2; }
for tool in ip tcpreplay taskset node make; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool is missing (scripts/setup-debian.sh --test installs it)" >&2; exit 2; }
done
helpers=dist/test/hardening-helpers
for f in "$helpers/soak-monitor.js" "$helpers/soak-check.js" build/Release/passive_rtt.node; do
  [[ -f "$f" ]] || { echo "soak.sh: $f is missing: run npm run build and npm run build:test" >&2; exit 2; }
done
make -s -C bench gen

work="$(mktemp -d)"
ns="prtt-soak-$$"
mon=""
replay=""
cleanup() {
  [[ -n "$replay" ]] && kill "$replay" 2>/dev/null || true
  [[ -n "$mon" ]] && kill "$mon" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  if [[ "${SOAK_KEEP:-0}" == 1 ]]; then echo "soak.sh: work files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

gen() {
  # churn 10: each flow slot is taken by about ten flows in turn, so the flow
  # table and the host-pair table keep filling and expiring all run long.
  nice -n 10 bench/gen --packets "$1" --rate "$pps" --flows "$flows" --hosts "$hosts" --churn 10 \
    -o "$work/soak.pcap" -t "$work/soak.truth" >"$work/gen.json"
}
json() { node -p "JSON.parse(require('fs').readFileSync('$work/gen.json', 'utf8')).$1"; }
echo "== generating ${seconds} s of traffic (about ${pps} packets/s, ${flows} concurrent flows, ${hosts} hosts)"
packets=$((seconds * pps))
gen "$packets"
# The generator's rate is a target: scale the packet count once so that the
# capture lasts at least the soak's length.
duration="$(json durationS)"
if node -e "process.exit(${duration} < ${seconds} ? 0 : 1)"; then
  packets="$(node -p "Math.ceil(${packets} * ${seconds} / ${duration} * 1.02)")"
  gen "$packets"
  duration="$(json durationS)"
fi
cat "$work/gen.json"
replay_pps="$(node -p "Math.round(${packets} / ${duration})")"

# Namespace: tcpreplay writes on sa, the monitor captures on sb, which holds
# the generator's local addresses (the monitor finds them on the
# interface). The frames are addressed to another MAC, so the namespace's
# own stack drops them unanswered.
ip netns add "$ns"
ip -n "$ns" link add sa type veth peer name sb
ip -n "$ns" link set lo up
ip -n "$ns" link set sa up
ip -n "$ns" link set sb up
ip -n "$ns" addr add 198.18.0.1/15 dev sb
ip -n "$ns" -6 addr add 2001:2::1/64 dev sb nodad

# An 8 MiB ring: about a minute of this traffic, touched in full (and so
# counted in the RSS) well within the warm-up.
options="{\"interface\":\"sb\",\"reportInterval\":${interval},\"readTimeout\":${timeout_ms},\"bufferSize\":8388608}"
ip netns exec "$ns" nice -n 10 node "$helpers/soak-monitor.js" "$options" >"$work/monitor.log" 2>"$work/monitor.err" &
mon=$!
for _ in $(seq 100); do
  grep -q '"t":"start"' "$work/monitor.log" 2>/dev/null && break
  kill -0 "$mon" 2>/dev/null || { cat "$work/monitor.err" >&2; exit 1; }
  sleep 0.1
done
grep -q '"t":"start"' "$work/monitor.log" || { echo "soak.sh: the monitor did not start" >&2; cat "$work/monitor.err" >&2; exit 1; }

echo "== replaying onto sa at ${replay_pps} packets/s (${duration} s)"
# At the capture's mean rate rather than its own packet gaps: tcpreplay
# sleeps gap by gap, and at nice 10 next to other work every wake-up comes
# late, so the replay would stretch (measured here: 2.4 times), and in a
# stretched capture flows closed by FIN expire early and lose their last
# samples. --pps keeps the whole run on its schedule; the verdict checks it.
# On one CPU: veth delivers on the sender's CPU, so a tcpreplay moved between
# CPUs could hand the capture two backlogs out of order.
ip netns exec "$ns" nice -n 10 taskset -c 0 tcpreplay -i sa --pps="$replay_pps" --stats=60 "$work/soak.pcap" >"$work/tcpreplay.log" 2>&1 &
replay=$!
wait "$replay"
replay=""
grep -E '^(Actual|Rated|Statistics|\s+(Successful|Failed|Truncated|Retried))' "$work/tcpreplay.log" || cat "$work/tcpreplay.log"
# One more interval, so the last periodic report is out, then stop(): the
# monitor delivers its last report and the final counters.
sleep "$((interval + 1))"
kill -TERM "$mon"
wait "$mon"
mon=""
ip netns del "$ns"

echo "== verdict"
node "$helpers/soak-check.js" "$work/monitor.log" "$work/tcpreplay.log" "$work/gen.json" "$interval" "$warmup" "$timeout_ms"
