#!/usr/bin/env bash
# WebRTC calls through eagw under load, on loopback: the set-up rate (offer + answer + ICE +
# DTLS per call) with the gateway's and the tool's CPU per set-up, then plain RTP calls and
# WebRTC calls (SRTP <-> RTP) back to back with the gateway's CPU per packet of each.
#   scripts/load-webrtc.sh [CALLS] [SECONDS] [--ims sdes] ...   (extra options go to the tool)
# Environment: ROUNDS (2: plain and webrtc runs in ABBA order, pooled), NG_PORT (2223), PORT_MIN/PORT_MAX (30000/39999), CORE_ADDR (127.0.0.1; another
# loopback address, e.g. 127.0.0.3, puts the IMS side on its own interface address and port
# pool: a WebRTC call takes 4 ports, two per side).
set -eu
cd "$(dirname "$0")/.."
CALLS=${1:-500}
SECS=${2:-20}
shift $(( $# < 2 ? $# : 2 ))
NG_PORT=${NG_PORT:-2223}
PORT_MIN=${PORT_MIN:-30000}
PORT_MAX=${PORT_MAX:-39999}
CORE_ADDR=${CORE_ADDR:-127.0.0.1}
ROUNDS=${ROUNDS:-2}
EAGW=./target/release/eagw
[ -x "$EAGW" ] || cargo build --release --bin eagw
work=$(mktemp -d /tmp/eagw-webrtc.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

cat >"$work/eagw.toml" <<CFG
[general]
workers = 2
log = "warn"
[control]
ng_udp = ["127.0.0.1:$NG_PORT"]
[media]
port_min = $PORT_MIN
port_max = $PORT_MAX
[[interface]]
name = "access"
address = "127.0.0.1"
[[interface]]
name = "core"
address = "$CORE_ADDR"
CFG
"$EAGW" run --config "$work/eagw.toml" >"$work/eagw.log" 2>&1 &
pid=$!
sleep 0.5
kill -0 "$pid" 2>/dev/null || { echo "eagw did not start:"; tail -5 "$work/eagw.log"; exit 1; }
args=(--ng "127.0.0.1:$NG_PORT" --pid "$pid" --name eagw --calls "$CALLS")
[ "$CORE_ADDR" != 127.0.0.1 ] && args+=(--direction access,core)
"$EAGW" load webrtc "${args[@]}" --setup-only "$@"
echo
"$EAGW" load compare "${args[@]}" --duration "$SECS" --webrtc --rounds "$ROUNDS" "$@"
