#!/usr/bin/env bash
# The crawl benchmarks of issue 13, not timed tests:
#  (a) a politeness-bound crawl: `optout crawl` over H loopback hosts × P linked pages
#      (examples/site_farm.rs), one request per host every INTERVAL_MS: the bound is
#      H × 1000 / INTERVAL_MS pages/s (100 × 500 at 50 ms: 2,000 pages/s; target ≥ 90%);
#  (b) Scrapy on the same farm with the same politeness (ROBOTSTXT_OBEY, DOWNLOAD_DELAY, one
#      request in flight per host, link following, a JSONL feed), installed from PyPI into
#      target/bench-venv; the same figures side by side, with ratios.
#
#   benches/crawl.sh                    # 100 hosts × 500 pages, 50 ms
#   benches/crawl.sh 10 50              # a quick run
#   INTERVAL_MS=100 SKIP_SCRAPY=1 benches/crawl.sh 100 500
#   OPTOUT_BIN=/tmp/old/optout BUILD=0 benches/crawl.sh
#   SKIP_OPTOUT=1 benches/crawl.sh 10 50  # the Scrapy half alone
#
# Figures: pages/s in the steady state (the middle 80% of the page requests, from the farm's
# own log, so both crawlers are measured the same way), total wall time, CPU seconds of the
# crawler (user + sys, /usr/bin/time), CPU seconds per 1,000 pages, the farm's smallest gap
# between two requests to one host and how many gaps were below 0.8 × INTERVAL_MS, and the
# 1-minute load average before each run (the machine may be shared: read ratios with it).
set -euo pipefail

HOSTS=${1:-${HOSTS:-100}}
PAGES=${2:-${PAGES:-500}}
INTERVAL_MS=${INTERVAL_MS:-50}
export INTERVAL_MS

cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "${BUILD:-1}" != 0 ]; then
    cargo build --release --quiet --bin optout --example site_farm
fi
OPTOUT=${OPTOUT_BIN:-$ROOT/target/release/optout}
FARM=${FARM_BIN:-$ROOT/target/release/examples/site_farm}

WORK=$(mktemp -d)
FARM_PID=
cleanup() {
    if [ -n "$FARM_PID" ]; then kill "$FARM_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# `start_farm NAME`: a fresh farm (fresh logs); its seeds in $WORK/NAME.seeds. It runs until
# `stop_farm` closes its standard input (a fifo), or this script ends.
start_farm() {
    local name=$1
    mkfifo "$WORK/$name.in"
    "$FARM" --hosts "$HOSTS" --pages "$PAGES" --interval-ms "$INTERVAL_MS" \
        <"$WORK/$name.in" >"$WORK/$name.seeds" 2>"$WORK/$name.farm" &
    FARM_PID=$!
    exec 3>"$WORK/$name.in"
    for _ in $(seq 200); do
        grep -qx ready "$WORK/$name.seeds" && return 0
        sleep 0.05
    done
    echo "the farm did not start" >&2
    cat "$WORK/$name.farm" >&2
    exit 1
}

# `stop_farm NAME`: ends the farm; its summary line goes to $WORK/NAME.stats.
stop_farm() {
    local name=$1
    exec 3>&-
    wait "$FARM_PID" || true
    FARM_PID=
    grep '^farm:' "$WORK/$name.farm" >"$WORK/$name.stats"
}

# `field NAME KEY`: a key=value of a farm summary line.
field() { tr ' ' '\n' <"$WORK/$1.stats" | sed -n "s/^$2=//p"; }

# `cpu NAME`: user + sys seconds from /usr/bin/time's output.
cpu() { awk '{ printf "%.2f", $2 + $3 }' "$WORK/$1.time"; }
wall() { awk '{ printf "%.2f", $1 }' "$WORK/$1.time"; }

BOUND=$(awk -v h="$HOSTS" -v i="$INTERVAL_MS" 'BEGIN { printf "%.0f", h * 1000 / i }')
echo "farm: $HOSTS hosts × $PAGES pages, interval $INTERVAL_MS ms: bound $BOUND pages/s"

# (a) optout crawl.
if [ "${SKIP_OPTOUT:-0}" = 0 ]; then
cat >"$WORK/optout.toml" <<EOF
[politeness]
min_interval_ms = $INTERVAL_MS
max_in_flight = 1024

[net]
allow_private_addresses = true
EOF
start_farm optout
grep '^http' "$WORK/optout.seeds" >"$WORK/seeds.txt"
LOAD_OPTOUT=$(cut -d' ' -f1 /proc/loadavg)
/usr/bin/time -f '%e %U %S' -o "$WORK/optout.time" \
    "$OPTOUT" --config "$WORK/optout.toml" --allow-private-addresses crawl \
    --seeds "$WORK/seeds.txt" -o "$WORK/crawl" --scope host --no-sitemaps -q \
    2>"$WORK/optout.stderr" || {
    echo "optout crawl failed:" >&2
    tail -20 "$WORK/optout.stderr" >&2
    exit 1
}
stop_farm optout
tail -1 "$WORK/optout.stderr"
fi

# (b) Scrapy.
if [ "${SKIP_SCRAPY:-0}" = 0 ]; then
    VENV=$ROOT/target/bench-venv
    if [ ! -x "$VENV/bin/scrapy" ]; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet scrapy
    fi
    start_farm scrapy
    grep '^http' "$WORK/scrapy.seeds" >"$WORK/seeds.txt"
    LOAD_SCRAPY=$(cut -d' ' -f1 /proc/loadavg)
    (cd "$ROOT/benches/crawl_scrapy" &&
        /usr/bin/time -f '%e %U %S' -o "$WORK/scrapy.time" \
            "$VENV/bin/scrapy" crawl farm -a seeds="$WORK/seeds.txt" -O "$WORK/scrapy.jsonl" \
            2>"$WORK/scrapy.stderr") || {
        echo "scrapy failed:" >&2
        tail -20 "$WORK/scrapy.stderr" >&2
        exit 1
    }
    stop_farm scrapy
    echo "scrapy: $(wc -l <"$WORK/scrapy.jsonl") items in the JSONL feed"
fi

printf '\n%-8s %9s %8s %9s %8s %8s %10s %9s %8s %6s\n' crawler pages/s '% bound' distinct \
    wall_s cpu_s 'cpu_s/1k' min_gap_ms 'gaps<0.8' load
row() {
    local name=$1 load=$2
    local rate distinct
    rate=$(field "$name" steady_pages_per_s)
    distinct=$(field "$name" distinct)
    printf '%-8s %9s %8s %9s %8s %8s %10s %9s %8s %6s\n' "$name" "$rate" \
        "$(awk -v r="$rate" -v b="$BOUND" 'BEGIN { printf "%.1f", 100 * r / b }')" \
        "$distinct" "$(wall "$name")" "$(cpu "$name")" \
        "$(awk -v c="$(cpu "$name")" -v n="$distinct" 'BEGIN { printf "%.3f", n ? 1000 * c / n : 0 }')" \
        "$(field "$name" min_gap_ms)" "$(field "$name" gaps_below)" "$load"
}
[ "${SKIP_OPTOUT:-0}" = 0 ] && row optout "$LOAD_OPTOUT"
[ "${SKIP_SCRAPY:-0}" = 0 ] && row scrapy "$LOAD_SCRAPY"
if [ "${SKIP_SCRAPY:-0}" = 0 ] && [ "${SKIP_OPTOUT:-0}" = 0 ]; then
    awk -v ro="$(field optout steady_pages_per_s)" -v rs="$(field scrapy steady_pages_per_s)" \
        -v co="$(cpu optout)" -v cs="$(cpu scrapy)" \
        -v no="$(field optout distinct)" -v ns="$(field scrapy distinct)" 'BEGIN {
        printf "\noptout/scrapy: pages/s %.2f×, CPU per page %.2f× (target: ≥ 1×, ≤ 0.2×)\n",
            rs ? ro / rs : 0, (ns && cs && no) ? (co / no) / (cs / ns) : 0
    }'
fi
