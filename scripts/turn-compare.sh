#!/usr/bin/env bash
# Relayed packets per CPU-second: eagw's TURN server against coturn's turnserver, both on
# loopback, under the same turnutils_uclient load, one after the other in one run.
#
#   scripts/turn-compare.sh [CLIENTS] [MESSAGES] [INTERVAL_MS] [ROUNDS] [ALLOCS]  (defaults 50 1000 5 2 5000)
#
# Then ALLOCS concurrent allocations are made on each server (examples/turn_allocations.rs)
# and its RSS growth reported (0 skips that).
#
# Each uclient "client" makes two allocations; every message goes client -> TURN -> peer
# (turnutils_peer echoes) -> TURN -> client, so relayed packets = sent + received. Server
# CPU is utime+stime of its process from /proc (all threads), read before and after.
# Needs `coturn` (scripts/deps.sh bench) and a release build of eagw. Binds 127.0.0.1 only.
#
# EAGW=path runs another eagw binary; EAGW_B=path adds a second eagw (e.g. a build of the
# previous commit) to every round, on its own ports, so two builds are compared in one run
# (EAGW_NAME / EAGW_B_NAME label them).
set -eu
clients=${1:-50}; msgs=${2:-1000}; interval=${3:-5}; rounds=${4:-2}; allocs=${5:-5000}
cd "$(dirname "$0")/.."
eagw=${EAGW:-target/release/eagw}
eagw_b=${EAGW_B:-}
name_a=${EAGW_NAME:-eagw}; name_b=${EAGW_B_NAME:-eagw B}
[ -x "$eagw" ] || cargo build --release
[ "$allocs" = 0 ] || cargo build --release -q --example turn_allocations
tmp=$(mktemp -d); trap 'kill $(cat $tmp/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $tmp' EXIT
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }

conf() { # conf NG_BASE MEDIA_MIN TURN_PORT RELAY_MIN RELAY_MAX
cat <<CFG
[general]
workers = 2
[control]
ng_udp = ["127.0.0.1:$1"]
http = ["127.0.0.1:$(($1 + 1))"]
[media]
port_min = $2
port_max = $(($2 + 399))
[[interface]]
name = "access"
address = "127.0.0.1"
[turn]
listen_udp = ["127.0.0.1:$3"]
listen_tcp = ["127.0.0.1:$3"]
realm = "eagw.local"
relay_address = "127.0.0.1"
port_min = $4
port_max = $5
users = { demo = "demo-password" }
allow_peers = ["127.0.0.1/32 22913-22914"]
user_quota = 0
total_quota = 0
CFG
}
conf 22901 23000 22910 50000 53999 > $tmp/eagw.toml
$eagw run --config $tmp/eagw.toml 2>$tmp/eagw.log & echo $! > $tmp/eagw.pid
if [ -n "$eagw_b" ]; then
    conf 22931 23400 22940 54000 57999 > $tmp/eagw_b.toml
    $eagw_b run --config $tmp/eagw_b.toml 2>$tmp/eagw_b.log & echo $! > $tmp/eagw_b.pid
fi
turnserver -n --listening-ip=127.0.0.1 --listening-port=22920 --relay-ip=127.0.0.1 \
  --min-port=58000 --max-port=65535 --lt-cred-mech --user=demo:demo-password --realm=eagw.local \
  --allow-loopback-peers --no-tls --no-dtls --no-cli --no-tcp-relay --relay-threads=2 \
  --pidfile=$tmp/turnserver.pidfile --log-file=$tmp/turnserver.log --simple-log >/dev/null 2>&1 &
echo $! > $tmp/coturn.pid
turnutils_peer -L 127.0.0.1 -p 22913 >/dev/null 2>&1 & echo $! > $tmp/peer.pid
sleep 1.5

run() { # run NAME PID PORT [uclient flags]
    local name=$1 pid=$2 port=$3; shift 3
    local c0; c0=$(cpu "$pid")
    local out; out=$(turnutils_uclient "$@" -c -u demo -w demo-password -p "$port" -e 127.0.0.1 -r 22913 \
        -n "$msgs" -m "$clients" -l 172 -z "$interval" 127.0.0.1 2>&1)
    local c1; c1=$(cpu "$pid")
    local sent recv lost
    sent=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\1/p' | tail -1)
    recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=\([0-9]*\), tot_recv_msgs=\([0-9]*\).*/\2/p' | tail -1)
    lost=$(echo "$out" | sed -n 's/.*Total lost packets \([0-9]*\) (\([0-9.]*\)%).*/\1 (\2%)/p' | tail -1)
    awk -v n="$name" -v s="${sent:-0}" -v r="${recv:-0}" -v c="$((c1 - c0))" -v t="$tck" -v l="$lost" 'BEGIN {
        cs = c / t; p = s + r;
        printf "%-18s relayed %8d packets  lost %-14s CPU %6.2f s  %9.0f packets/CPU-s  %6.1f us/packet\n",
            n, p, l, cs, (cs > 0 ? p / cs : 0), (p > 0 ? cs * 1e6 / p : 0) }'
}
echo "load: $clients clients x $msgs messages of 172 bytes every $interval ms (uclient, channels), $rounds rounds"
for r in $(seq "$rounds"); do
    run "$name_a UDP"   "$(cat $tmp/eagw.pid)" 22910
    [ -z "$eagw_b" ] || run "$name_b UDP" "$(cat $tmp/eagw_b.pid)" 22940
    run "coturn UDP" "$(cat $tmp/coturn.pid)" 22920
done
for r in $(seq "$rounds"); do
    run "$name_a TCP"   "$(cat $tmp/eagw.pid)" 22910 -t
    [ -z "$eagw_b" ] || run "$name_b TCP" "$(cat $tmp/eagw_b.pid)" 22940 -t
    run "coturn TCP" "$(cat $tmp/coturn.pid)" 22920 -t
done
if [ "$allocs" != 0 ]; then
    ulimit -n 65536 2>/dev/null || true
    echo "memory of $allocs concurrent allocations (server RSS growth):"
    printf "eagw    "; target/release/examples/turn_allocations 127.0.0.1:22910 "$(cat $tmp/eagw.pid)" "$allocs"
    printf "coturn  "; target/release/examples/turn_allocations 127.0.0.1:22920 "$(cat $tmp/coturn.pid)" "$allocs"
fi
