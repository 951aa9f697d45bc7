#!/usr/bin/env bash
# Transcoding density on loopback: eagw with ONE worker (one core) takes Opus <-> AMR-WB calls
# (real frames both ways, 50 packets/s each) in steps of CALLS; each step reports eagw's CPU,
# calls per core and the frames it sent late (> 5 ms after their playout tick).
#   scripts/load-transcode.sh [STEPS] [SECONDS] [--codec pcma] ...   (extra options go to the tool)
# STEPS: space-separated call counts (default "10 20 30 40"). Environment: NG_PORT (2223),
# PORT_MIN/PORT_MAX (30000/39999), OPUS_APPLICATION / OPUS_COMPLEXITY / OPUS_BITRATE (eagw's
# [media] settings; unset: eagw's defaults), AMRWB_DTX (true/false), WORKER_SCHEDULING
# (other/fifo/rr: [general] worker_scheduling, real-time priority 10).
set -eu
cd "$(dirname "$0")/.."
STEPS=${1:-"10 20 30 40"}
SECS=${2:-15}
shift $(( $# < 2 ? $# : 2 ))
NG_PORT=${NG_PORT:-2223}
PORT_MIN=${PORT_MIN:-30000}
PORT_MAX=${PORT_MAX:-39999}
EAGW=./target/release/eagw
[ -x "$EAGW" ] || cargo build --release --bin eagw
work=$(mktemp -d /tmp/eagw-xload.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cat >"$work/eagw.toml" <<CFG
[general]
workers = 1
log = "warn"
${WORKER_SCHEDULING:+worker_scheduling = \"$WORKER_SCHEDULING\"}
[control]
ng_udp = ["127.0.0.1:$NG_PORT"]
[media]
port_min = $PORT_MIN
port_max = $PORT_MAX
${OPUS_APPLICATION:+opus_application = \"$OPUS_APPLICATION\"}
${OPUS_COMPLEXITY:+opus_complexity = $OPUS_COMPLEXITY}
${OPUS_BITRATE:+opus_bitrate = $OPUS_BITRATE}
${AMRWB_DTX:+amrwb_dtx = $AMRWB_DTX}
[[interface]]
name = "access"
address = "127.0.0.1"
CFG
"$EAGW" run --config "$work/eagw.toml" >"$work/eagw.log" 2>&1 &
pid=$!
sleep 0.5
kill -0 "$pid" 2>/dev/null || { echo "eagw did not start:"; tail -5 "$work/eagw.log"; exit 1; }
for n in $STEPS; do
  echo "== $n calls"
  "$EAGW" load transcode --ng "127.0.0.1:$NG_PORT" --pid "$pid" --calls "$n" --duration "$SECS" "$@"
  sleep 1
done
