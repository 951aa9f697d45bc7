#!/usr/bin/env bash
# eagw, rtpengine (userspace, if installed) and a bare recvfrom+sendto relay under the same
# load, one after another in one run of the load tool, on loopback:
#   scripts/load-compare.sh [CALLS] [SECONDS]
# Then the control plane: ng offer+answer+delete per second against eagw.
set -eu
cd "$(dirname "$0")/.."
CALLS=${1:-500}
SECS=${2:-20}
EAGW=./target/release/eagw
[ -x "$EAGW" ] || cargo build --release --bin eagw
work=$(mktemp -d /tmp/eagw-load.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

"$EAGW" run >"$work/eagw.log" 2>&1 &
pids+=($!); EAGW_PID=$!
sleep 0.5
kill -0 "$EAGW_PID" 2>/dev/null || { echo "eagw did not start:"; tail -5 "$work/eagw.log"; exit 1; }
args=(--ng 127.0.0.1:2223 --pid "$EAGW_PID" --name eagw)
if command -v rtpengine >/dev/null 2>&1; then
    rtpengine --config-file=none --foreground --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:2299 \
        --port-min=40000 --port-max=49999 --log-stderr --log-level=4 --delete-delay=0 \
        --pidfile="$work/rtpengine.pid" >"$work/rtpengine.log" 2>&1 &
    pids+=($!); RTPE_PID=$!
    sleep 1
    kill -0 "$RTPE_PID" 2>/dev/null || { echo "rtpengine did not start:"; tail -5 "$work/rtpengine.log"; exit 1; }
    args+=(--ng2 127.0.0.1:2299 --pid2 "$RTPE_PID" --name2 "rtpengine $(rtpengine --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1)")
else
    echo "rtpengine not installed (scripts/deps.sh bench installs it): comparing eagw with the floor only"
fi
"$EAGW" load compare "${args[@]}" --calls "$CALLS" --duration "$SECS"
echo
"$EAGW" load ng-rate --ng 127.0.0.1:2223 --calls 20000
echo
"$EAGW" load calls --ng 127.0.0.1:2223 --pid "$EAGW_PID" --calls 1500 --duration 1 --ramp 1 2>/dev/null | grep -E "RSS|established"
