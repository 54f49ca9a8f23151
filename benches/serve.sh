#!/usr/bin/env bash
# The benchmark of issue 15 (not a timed test): `POST /v1/check` with batches of 100 URLs over
# warm policy caches, driven by wrk (Debian package `wrk`), against the same decisions made
# in process (examples/serve_inprocess.rs calling Engine::check_many), in one run.
#
#   benches/serve.sh                  # 100 hosts × 100 pages, 20 s, 16 connections, 2 threads
#   HOSTS=20 SECONDS_=5 benches/serve.sh
#   OPTOUT_BIN=/tmp/old/optout BUILD=0 benches/serve.sh
#   PROFILE=/tmp/serve.perf benches/serve.sh   # perf record of the service during the wrk run
#
# The hosts are the loopback site farm of examples/site_farm.rs (robots.txt allows all; every
# URL is a page on a farm host), so checks only read robots.txt, tdmrep.json and ai.txt once
# per origin; a first pass over every URL warms the caches. Then wrk runs for SECONDS_ s with
# CONNECTIONS connections on THREADS threads, each request a batch of 100 URLs (a Lua script
# cycles through the batches). Figures: decisions/s (requests/s × 100), p50 and p99 latency
# per request, CPU seconds of the service, and the same for the in-process run; the ratio of
# the two rates; and the 1-minute load average before each (the machine may be shared).
set -euo pipefail

HOSTS=${HOSTS:-100}
PAGES=${PAGES:-100}
SECONDS_=${SECONDS_:-20}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}

cd "$(dirname "$0")/.."
ROOT=$PWD
if ! command -v wrk >/dev/null; then
    echo "wrk is needed: apt-get install -y wrk" >&2
    exit 1
fi
if [ "${BUILD:-1}" != 0 ]; then
    cargo build --release --quiet --bin optout --example site_farm --example serve_inprocess
fi
OPTOUT=${OPTOUT_BIN:-$ROOT/target/release/optout}
FARM=$ROOT/target/release/examples/site_farm
INPROCESS=$ROOT/target/release/examples/serve_inprocess

WORK=$(mktemp -d)
FARM_PID=
SERVE_PID=
cleanup() {
    if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; fi
    if [ -n "$FARM_PID" ]; then kill "$FARM_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The farm, with no pacing: checks never fetch pages, only the policy files once per origin.
mkfifo "$WORK/farm.in"
"$FARM" --hosts "$HOSTS" --pages "$PAGES" --interval-ms 1 <"$WORK/farm.in" >"$WORK/seeds" 2>"$WORK/farm.err" &
FARM_PID=$!
exec 3>"$WORK/farm.in"
for _ in $(seq 200); do grep -qx ready "$WORK/seeds" && break; sleep 0.05; done
grep -qx ready "$WORK/seeds" || { echo "the farm did not start" >&2; exit 1; }

# Every page of every host, shuffled so that a batch spans many origins.
grep '^http' "$WORK/seeds" | sed 's|/p/0.html$||; s|/$||' | while read -r origin; do
    for i in $(seq 0 $((PAGES - 1))); do echo "$origin/p/$i.html"; done
done | shuf --random-source=<(yes) >"$WORK/urls"
N=$(wc -l <"$WORK/urls")
# One JSON body per line, 100 URLs each.
awk 'BEGIN { ORS = "" } { u[NR] = $0 } END {
    for (i = 1; i <= NR; i += 100) {
        print "{\"urls\":["
        for (j = i; j < i + 100 && j <= NR; j++) { if (j > i) print ","; print "\"" u[j] "\"" }
        print "]}\n"
    } }' "$WORK/urls" >"$WORK/bodies"

cat >"$WORK/optout.toml" <<TOML
[net]
allow_private_addresses = true
TOML

cat >"$WORK/post.lua" <<LUA
local bodies = {}
for line in io.lines("$WORK/bodies") do bodies[#bodies + 1] = line end
local i = math.random(#bodies)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    i = i % #bodies + 1
    return wrk.format(nil, "/v1/check", nil, bodies[i])
end
response = function(status, headers, body)
    if status ~= 200 then error("status " .. status) end
end
LUA

"$OPTOUT" --config "$WORK/optout.toml" --store "$WORK/serve-store" serve --listen 127.0.0.1:0 \
    >"$WORK/serve.out" 2>"$WORK/serve.err" &
SERVE_PID=$!
for _ in $(seq 200); do grep -q '^listening on' "$WORK/serve.out" && break; sleep 0.05; done
BASE=$(sed -n 's/^listening on //p' "$WORK/serve.out")
[ -n "$BASE" ] || { echo "optout serve did not start" >&2; cat "$WORK/serve.err" >&2; exit 1; }

# Warm: every URL once.
while read -r body; do
    curl -sf -H 'Content-Type: application/json' --data-binary "$body" "$BASE/v1/check" >/dev/null
done <"$WORK/bodies"

cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)
LOAD_SERVE=$(cut -d' ' -f1 /proc/loadavg)
CPU0=$(cpu_of "$SERVE_PID")
if [ -n "${PROFILE:-}" ]; then
    perf record -F 499 -g -p "$SERVE_PID" -o "$PROFILE" -- sleep "$SECONDS_" 2>/dev/null &
fi
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_}s" --latency -s "$WORK/post.lua" "$BASE" >"$WORK/wrk.out"
if [ -n "${PROFILE:-}" ]; then wait %1 || true; fi
CPU1=$(cpu_of "$SERVE_PID")
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || { echo "optout serve did not exit 0" >&2; exit 1; }
SERVE_PID=
cat "$WORK/wrk.out"

RPS=$(awk '/^Requests\/sec/ { print $2 }' "$WORK/wrk.out")
# wrk prints latencies with units (us, ms, s): in ms.
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else if (v ~ /s$/) print v * 1000; else print v }'; }
P50=$(ms "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk.out")")
P99=$(ms "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk.out")")
ERRORS=$(awk '/Non-2xx|Socket errors/ { print }' "$WORK/wrk.out")
SERVE_RATE=$(awk -v r="$RPS" 'BEGIN { printf "%.0f", r * 100 }')
SERVE_CPU=$(awk -v a="$CPU0" -v b="$CPU1" -v t="$TICKS" 'BEGIN { printf "%.1f", (b - a) / t }')

# The same decisions in process, on a copy of the warm store (its policy cache on disk).
LOAD_INPROCESS=$(cut -d' ' -f1 /proc/loadavg)
"$INPROCESS" --config "$WORK/optout.toml" --store "$WORK/serve-store" --urls "$WORK/urls" \
    --seconds "$SECONDS_" --concurrency "$CONNECTIONS" >"$WORK/inprocess.out"
cat "$WORK/inprocess.out"
IN_RATE=$(tr ' ' '\n' <"$WORK/inprocess.out" | sed -n 's/^decisions_per_s=//p')
IN_P99=$(tr ' ' '\n' <"$WORK/inprocess.out" | sed -n 's/^p99_ms=//p')

echo
echo "urls: $N over $HOSTS origins; wrk: $THREADS threads, $CONNECTIONS connections, ${SECONDS_} s, 100 URLs per request ${ERRORS:+($ERRORS)}"
printf '%-12s %14s %9s %9s %8s %6s\n' run decisions/s p50_ms p99_ms cpu_s load
printf '%-12s %14s %9s %9s %8s %6s\n' serve "$SERVE_RATE" "$P50" "$P99" "$SERVE_CPU" "$LOAD_SERVE"
printf '%-12s %14s %9s %9s %8s %6s\n' in-process "$IN_RATE" - "$IN_P99" - "$LOAD_INPROCESS"
awk -v s="$SERVE_RATE" -v i="$IN_RATE" 'BEGIN { printf "serve / in-process: %.2f\n", s / i }'
