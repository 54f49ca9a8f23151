#!/usr/bin/env bash
# Whole-process bulk check, side by side: `optout check --robots FILE --json` against the
# plainest `texting_robots` loop (examples/texting_loop.rs) on the same small robots.txt
# files and the same URLs read from standard input (issue item 10).
#
#   benches/check_bulk.sh                 # defaults below
#   N=1000000 RUNS=5 benches/check_bulk.sh
#   FILES="help.webex.com www.mysql.com" PURPOSES=search benches/check_bulk.sh
#   OPTOUT_BIN=/tmp/old/optout BUILD=0 benches/check_bulk.sh   # another build, no cargo
#
# It builds the release binary and the example once, generates N URLs over one host (a mix
# of allowed and refused paths for the files below), then for each file and purpose runs,
# RUNS times each, in turn: the texting_robots loop, `optout check --json --no-log`, and
# `optout check --json` with the evidence log (the default; a fresh store each run, so every
# run records N decisions and syncs them before exiting). Output goes to /dev/null. Each line
# gives the median wall clock per URL over the runs, the CPU (user + system) per URL of the
# median run, the ratio of wall clocks to the texting_robots loop, and the 1-minute load
# average (/proc/loadavg) before the runs: the machine is shared, so read ratios with it.
set -euo pipefail

N=${N:-200000}
RUNS=${RUNS:-3}
AGENT=${AGENT:-optout}
PURPOSES=${PURPOSES:-"train-ai search"}
FILES=${FILES:-"help.webex.com www.mysql.com patriotswire.usatoday.com www.nbcsportschicago.com"}
HOST=${HOST:-www.example.com}

cd "$(dirname "$0")/.."
ROOT=$PWD
if [ "${BUILD:-1}" != 0 ]; then
    cargo build --release --quiet --bin optout --example texting_loop
fi
OPTOUT=${OPTOUT_BIN:-$ROOT/target/release/optout}
TEXTING=$ROOT/target/release/examples/texting_loop

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
URLS=$WORK/urls.txt

# Paths that the files above refuse or allow, with generated tails so no two URLs repeat.
awk -v n="$N" -v host="$HOST" 'BEGIN {
    split("/ /news/ /wp-admin/ /wp-admin/admin-ajax.php /auth/login/ /get/ /imagecache/ " \
          "/result /ping /images/water_mark.png /a/e2okky/ /liveblog/x/ /?s= /includes/ " \
          "/results/ /wp-content/uploads/ /articles/ /doc/comment.php /topics? /products/", p, " ")
    k = length(p)
    for (i = 0; i < n; i++) {
        path = p[i % k + 1]
        printf "https://%s%s%d-item-%d.html\n", host, path, int(i / k), i % 97
    }
}' >"$URLS"

# `time_one OUT CMD...`: runs CMD with the URLs on stdin; appends "wall user sys" (seconds).
# Exit status 1 means some URL was refused; anything else above 0 stops the bench.
TIMEFORMAT='%3R %3U %3S'
time_one() {
    local out=$1
    shift
    { time { "$@" <"$URLS" >/dev/null 2>"$WORK/stderr" || echo $? >"$WORK/rc"; }; } 2>>"$out"
    if [ -s "$WORK/rc" ] && [ "$(cat "$WORK/rc")" -gt 1 ]; then
        echo "failed: $*" >&2
        cat "$WORK/stderr" >&2
        exit 1
    fi
    rm -f "$WORK/rc"
}

# The median run (by wall clock) of FILE: "wall user sys".
median() { sort -n "$1" | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }

printf '%-28s %-9s %-22s %9s %9s %7s %5s\n' file purpose command 'µs/URL' 'cpu µs' ratio load
for file in $FILES; do
    robots=$ROOT/tests/data/robots/$file
    for purpose in $PURPOSES; do
        : >"$WORK/texting" ; : >"$WORK/nolog" ; : >"$WORK/log"
        load=$(cut -d' ' -f1 /proc/loadavg)
        for _ in $(seq "$RUNS"); do
            time_one "$WORK/texting" "$TEXTING" "$robots" "$AGENT"
            time_one "$WORK/nolog" "$OPTOUT" --store "$WORK/unused" check --agent "$AGENT" \
                --purpose "$purpose" --robots "$robots" --json --no-log
            rm -rf "$WORK/store"
            time_one "$WORK/log" "$OPTOUT" --store "$WORK/store" check --agent "$AGENT" \
                --purpose "$purpose" --robots "$robots" --json
        done
        read -r base _ < <(median "$WORK/texting")
        for kind in texting nolog log; do
            read -r wall user sys < <(median "$WORK/$kind")
            case $kind in
            texting) name="texting_robots loop" ;;
            nolog) name="check --json --no-log" ;;
            log) name="check --json" ;;
            esac
            awk -v f="$file" -v p="$purpose" -v c="$name" -v w="$wall" -v u="$user" \
                -v s="$sys" -v n="$N" -v b="$base" -v l="$load" 'BEGIN {
                printf "%-28s %-9s %-22s %9.3f %9.3f %6.2fx %5s\n",
                    f, p, c, w * 1e6 / n, (u + s) * 1e6 / n, w / b, l }'
        done
    done
done
