#!/usr/bin/env bash
# Transcoding density, eagw against rtpengine, in one run: both gateways on one core each
# (eagw: 1 worker; rtpengine: --num-threads=1), the same Opus <-> PCMA load
# (`eagw load transcode --codec pcma`: real frames, 50 packets/s each way per call) against
# each in ABBA order (round 1 eagw then rtpengine, round 2 the other way round, ...), then
# gateway CPU per call, CPU per packet, calls per core and the ratio, per round and pooled.
#   scripts/transcode-compare.sh [CALLS] [SECONDS] [ROUNDS]     (default 20 15 2)
# With QUALITY=1 it then runs the side-by-side PESQ test (tests/transcode_rtpengine.rs)
# against both gateways. Environment: OPUS_APPLICATION, OPUS_COMPLEXITY, OPUS_BITRATE (eagw's
# [media] opus_application / opus_complexity / opus_bitrate; unset: eagw's defaults),
# NG_PORT / NG_PORT2 (2241 / 2242), media ports 50000-51999 (eagw) and 52000-53999 (rtpengine).
# rtpengine 10.5 (Debian 12: rtpengine-daemon) has no option for its Opus encoder's
# complexity: it encodes through ffmpeg's libopus wrapper at that wrapper's default (10).
# Without rtpengine installed the script says so and measures eagw alone.
set -eu
cd "$(dirname "$0")/.."
CALLS=${1:-20}
SECS=${2:-15}
ROUNDS=${3:-2}
NG_PORT=${NG_PORT:-2241}
NG_PORT2=${NG_PORT2:-2242}
EAGW=./target/release/eagw
[ -x "$EAGW" ] || cargo build --release --bin eagw
work=$(mktemp -d /tmp/eagw-xcompare.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

cat >"$work/eagw.toml" <<CFG
[general]
workers = 1
log = "warn"
[control]
ng_udp = ["127.0.0.1:$NG_PORT"]
[media]
port_min = 50000
port_max = 51999
${OPUS_APPLICATION:+opus_application = \"$OPUS_APPLICATION\"}
${OPUS_COMPLEXITY:+opus_complexity = $OPUS_COMPLEXITY}
${OPUS_BITRATE:+opus_bitrate = $OPUS_BITRATE}
[[interface]]
name = "access"
address = "127.0.0.1"
CFG
"$EAGW" run --config "$work/eagw.toml" >"$work/eagw.log" 2>&1 &
EAGW_PID=$!; pids+=("$EAGW_PID")
sleep 0.5
kill -0 "$EAGW_PID" 2>/dev/null || { echo "eagw did not start:"; tail -5 "$work/eagw.log"; exit 1; }
gateways=("eagw 127.0.0.1:$NG_PORT $EAGW_PID")

if command -v rtpengine >/dev/null 2>&1; then
    RTPE_VER=$(rtpengine --version 2>&1 | grep -o '[0-9][0-9.]*' | head -1)
    # userspace (--table=-1), one worker thread; its transcoding needs nothing else
    rtpengine --config-file=none --foreground --table=-1 --interface=127.0.0.1 \
        --listen-ng=127.0.0.1:$NG_PORT2 --port-min=52000 --port-max=53999 --num-threads=1 \
        --log-stderr --log-level=4 --delete-delay=0 --pidfile="$work/rtpengine.pid" \
        >"$work/rtpengine.log" 2>&1 &
    RTPE_PID=$!; pids+=("$RTPE_PID")
    sleep 1
    kill -0 "$RTPE_PID" 2>/dev/null || { echo "rtpengine did not start:"; tail -5 "$work/rtpengine.log"; exit 1; }
    gateways+=("rtpengine-$RTPE_VER 127.0.0.1:$NG_PORT2 $RTPE_PID")
else
    echo "rtpengine not installed (apt-get install rtpengine-daemon): measuring eagw alone"
fi

echo "Opus <-> PCMA, $CALLS calls, $SECS s per run, $ROUNDS rounds (ABBA); eagw Opus: ${OPUS_APPLICATION:-default} application, complexity ${OPUS_COMPLEXITY:-default}, bitrate ${OPUS_BITRATE:-default}"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
    order=("${gateways[@]}")
    if [ $((r % 2)) -eq 0 ] && [ ${#gateways[@]} -eq 2 ]; then order=("${gateways[1]}" "${gateways[0]}"); fi
    for g in "${order[@]}"; do
        read -r name ng pid <<<"$g"
        "$EAGW" load transcode --ng "$ng" --pid "$pid" --calls "$CALLS" --duration "$SECS" --codec pcma \
            --name "$name" --json | sed "s/^{/{\"round\":$r,/" | tee -a "$work/runs.jsonl"
        sleep 1
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work/runs.jsonl" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
names = list(dict.fromkeys(r["name"] for r in runs))
print()
print("| round | gateway | CPU-ms per call-second | CPU-µs per packet | calls per core | received A→B / B→A | Opus sent to the Opus party |")
print("|---|---|---|---|---|---|---|")
for r in runs:
    print(f"| {r['round']} | {r['name']} | {r['cpu_ms_per_call_s']:.2f} | {r['cpu_us_per_packet']:.1f} | {r['calls_per_core']:.1f} | "
          f"{r['received'][0]}/{r['sent'][0]} / {r['received'][1]}/{r['sent'][1]} | {r['mean_payload'][1]:.0f} B, {r['opus_toc']} |")
pooled = {}
for n in names:
    rs = [r for r in runs if r["name"] == n]
    cpu = sum(r["gateway_cores"] * r["duration_s"] for r in rs)
    call_s = sum(r["calls"] * r["duration_s"] for r in rs)
    pkts = sum(sum(r["sent"]) for r in rs)
    pooled[n] = (1000 * cpu / call_s, 1e6 * cpu / pkts, call_s / cpu)
    print(f"{n}: pooled {pooled[n][0]:.2f} CPU-ms per call-second, {pooled[n][1]:.1f} CPU-µs per packet, {pooled[n][2]:.1f} calls per core")
if len(names) == 2:
    a, b = names
    rounds = sorted(set(r["round"] for r in runs))
    per = []
    for k in rounds:
        x = {r["name"]: r for r in runs if r["round"] == k}
        if a in x and b in x:
            per.append(x[a]["calls_per_core"] / x[b]["calls_per_core"])
    print(f"calls per core {a} / {b}: pooled {pooled[a][2] / pooled[b][2]:.2f}x; rounds " + ", ".join(f"{v:.2f}x" for v in per))
PY

if [ "${QUALITY:-0}" = 1 ]; then
    ng_list="eagw=127.0.0.1:$NG_PORT"
    [ ${#gateways[@]} -eq 2 ] && ng_list="$ng_list,rtpengine=127.0.0.1:$NG_PORT2"
    TRANSCODE_NG="$ng_list" cargo test --release --test transcode_rtpengine -- --ignored --nocapture
fi
