#!/usr/bin/env bash
# Kamailio + sipp interop smoke test for an ng media relay (eagw), loopback only.
#
#   scripts/interop-kamailio.sh --fake          # fake_ng.py plays the relay
#   scripts/interop-kamailio.sh --relay-cmd "target/debug/eagw --listen-ng 127.0.0.1:2223 ..."
#   scripts/interop-kamailio.sh                 # a relay already listens on NG_PORT
#
# Flow: sipp UAC -> Kamailio (rtpengine module, ng over UDP) -> sipp UAS. For
# ~3 s the UAC replays /usr/share/sip-tester/g711a.pcap (PCMA, 30 ms) and the
# UAS streams a generated PCMA tone (rtp_stream, 20 ms), each to the media
# address in the SDP it received; rtp_count.py sniffs `lo` and the test
# passes when both sipp exit 0 and each sipp media port both sent and received
# at least MIN_RTP packets. Needs root (sipp pcap play uses raw sockets,
# rtp_count uses AF_PACKET). Every process binds 127.0.0.1 only.
#
# Environment (defaults): SIP_PORT=15060 UAC_PORT=15070 UAS_PORT=15080
#   NG_PORT=2223 UAC_MEDIA_PORT=16000 UAS_MEDIA_PORT=16010 MIN_RTP=50
#   WORKDIR=<mktemp -d>  KAMAILIO=kamailio  SIPP=sipp  PYTHON=python3
# Options: --fake  --relay-cmd CMD  --capture FILE (copy fake_ng's request log)
#          --keep (keep WORKDIR)
set -u

HERE="$(cd "$(dirname "$0")/.." && pwd)"
IOP="$HERE/tests/interop"

SIP_PORT=${SIP_PORT:-15060}
UAC_PORT=${UAC_PORT:-15070}
UAS_PORT=${UAS_PORT:-15080}
NG_PORT=${NG_PORT:-2223}
UAC_MEDIA_PORT=${UAC_MEDIA_PORT:-16000}
UAS_MEDIA_PORT=${UAS_MEDIA_PORT:-16010}
MIN_RTP=${MIN_RTP:-50}
KAMAILIO=${KAMAILIO:-kamailio}
SIPP=${SIPP:-sipp}
PYTHON=${PYTHON:-python3}

FAKE=0
RELAY_CMD=""
CAPTURE=""
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --fake) FAKE=1 ;;
        --relay-cmd) RELAY_CMD="$2"; shift ;;
        --capture) CAPTURE="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

for bin in "$KAMAILIO" "$SIPP" "$PYTHON"; do
    command -v "$bin" >/dev/null || { echo "missing $bin (apt-get install kamailio sip-tester)" >&2; exit 2; }
done
[ -r /usr/share/sip-tester/g711a.pcap ] || { echo "missing /usr/share/sip-tester/g711a.pcap (sip-tester)" >&2; exit 2; }

WORKDIR=${WORKDIR:-$(mktemp -d /tmp/eagw-interop.XXXXXX)}
mkdir -p "$WORKDIR/run"
echo "workdir: $WORKDIR"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    sleep 0.3
    for p in "${PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$KEEP" = 0 ] && [ "${RESULT:-1}" = 0 ]; then
        rm -rf "$WORKDIR"
    fi
}
trap cleanup EXIT

# ---- ng server -------------------------------------------------------------
if [ "$FAKE" = 1 ]; then
    "$PYTHON" "$IOP/fake_ng.py" --port "$NG_PORT" --log "$WORKDIR/ng-requests.log" \
        2>"$WORKDIR/fake_ng.err" &
    PIDS+=($!)
elif [ -n "$RELAY_CMD" ]; then
    bash -c "exec $RELAY_CMD" >"$WORKDIR/relay.log" 2>&1 &
    PIDS+=($!)
fi

# ---- kamailio ---------------------------------------------------------------
sed -e "s/@SIP_PORT@/$SIP_PORT/g" -e "s/@NG_PORT@/$NG_PORT/g" -e "s/@UAS_PORT@/$UAS_PORT/g" \
    "$IOP/kamailio.cfg" >"$WORKDIR/kamailio.cfg"
"$KAMAILIO" -f "$WORKDIR/kamailio.cfg" -DD -E -Y "$WORKDIR/run" -P "$WORKDIR/kamailio.pid" \
    -w "$WORKDIR" -m 64 -M 8 >"$WORKDIR/kamailio.log" 2>&1 &
KAM_PID=$!
PIDS+=($KAM_PID)

# wait until kamailio's worker processes run (pid file written, port bound)
for _ in $(seq 1 50); do
    [ -s "$WORKDIR/kamailio.pid" ] && grep -q "udp: 127.0.0.1" "$WORKDIR/kamailio.log" && break
    kill -0 "$KAM_PID" 2>/dev/null || break
    sleep 0.1
done
if ! kill -0 "$KAM_PID" 2>/dev/null; then
    echo "kamailio failed to start:" >&2; tail -30 "$WORKDIR/kamailio.log" >&2; exit 1
fi
sleep 1

# ---- RTP sniffer --------------------------------------------------------------
"$PYTHON" "$IOP/rtp_count.py" --ports "$UAC_MEDIA_PORT,$UAS_MEDIA_PORT" --duration 60 \
    --out "$WORKDIR/rtp.json" >/dev/null 2>"$WORKDIR/rtp_count.err" &
SNIFF_PID=$!
PIDS+=($SNIFF_PID)

# ---- sipp ---------------------------------------------------------------------
cd "$WORKDIR"
# uas.xml streams ./tone_alaw.wav (read from the current directory at load time)
"$PYTHON" "$IOP/make_tone.py" "$WORKDIR/tone_alaw.wav" || exit 1
"$SIPP" -sf "$IOP/uas.xml" -i 127.0.0.1 -p "$UAS_PORT" -mi 127.0.0.1 -mp "$UAS_MEDIA_PORT" \
    -m 1 -nd -nostdin -timeout 30s -timeout_error -trace_err -trace_msg \
    >"$WORKDIR/sipp-uas.out" 2>&1 &
UAS_PID=$!
PIDS+=($UAS_PID)
sleep 0.5

"$SIPP" -sf "$IOP/uac.xml" -i 127.0.0.1 -p "$UAC_PORT" -mi 127.0.0.1 -mp "$UAC_MEDIA_PORT" \
    -m 1 -nd -nostdin -timeout 30s -timeout_error -trace_err -trace_msg \
    -s eagw 127.0.0.1:"$SIP_PORT" >"$WORKDIR/sipp-uac.out" 2>&1
UAC_RC=$?
wait "$UAS_PID"
UAS_RC=$?
sleep 0.5
kill "$SNIFF_PID" 2>/dev/null
wait "$SNIFF_PID" 2>/dev/null

echo "sipp uac rc=$UAC_RC  sipp uas rc=$UAS_RC"
[ -n "$CAPTURE" ] && [ -f "$WORKDIR/ng-requests.log" ] && cp "$WORKDIR/ng-requests.log" "$CAPTURE"

# ---- verdict --------------------------------------------------------------------
"$PYTHON" - "$WORKDIR/rtp.json" "$UAC_MEDIA_PORT" "$UAS_MEDIA_PORT" "$MIN_RTP" <<'EOF'
import json, sys
path, uac, uas, need = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
try:
    flows = json.load(open(path))["flows"]
except Exception as e:
    print("no RTP capture: %s" % e); sys.exit(1)
ok = True
for name, port in (("uac", uac), ("uas", uas)):
    sent = sum(f["packets"] for k, f in flows.items()
               if f["kind"] == "rtp" and int(k.split(" -> ")[0].rsplit(":", 1)[1]) == port)
    recv = sum(f["packets"] for k, f in flows.items()
               if f["kind"] == "rtp" and int(k.split(" -> ")[1].rsplit(":", 1)[1]) == port)
    good = sent >= need and recv >= need
    ok &= good
    print("%s media port %d: sent %d RTP, received %d RTP %s"
          % (name, port, sent, recv, "ok" if good else "FAIL (need >= %d each)" % need))
for k, f in sorted(flows.items()):
    print("  %-32s %-4s %4d pkts %6d bytes pt=%s ssrc=%s"
          % (k, f["kind"], f["packets"], f["bytes"], f["pt"], ",".join("%08x" % x for x in f["ssrc"])))
sys.exit(0 if ok else 1)
EOF
RTP_RC=$?

if [ "$UAC_RC" = 0 ] && [ "$UAS_RC" = 0 ] && [ "$RTP_RC" = 0 ]; then
    RESULT=0; echo "interop: PASS"
else
    RESULT=1; echo "interop: FAIL (logs kept in $WORKDIR)"
fi
exit $RESULT
