#!/usr/bin/env bash
# Relayed packets per CPU-second: eagw's TURN server against coturn's turnserver and the
# webrtc-rs `turn` 0.17 crate's server (examples/turn_crate_server.rs, UDP only), all on
# loopback, under the same turnutils_uclient load, one after the other in one run; the order
# of the servers is reversed every other round (ABBA), so a drift of the shared cores does
# not favour one of them.
#
#   scripts/turn-compare.sh [CLIENTS] [MESSAGES] [INTERVAL_MS] [ROUNDS] [ALLOCS]  (defaults 50 1000 5 2 5000)
#
# Then ALLOCS concurrent allocations are made on each server (examples/turn_allocations.rs)
# and its RSS growth reported (0 skips that).
#
# Each uclient "client" makes two allocations; every message goes client -> TURN -> peer
# (turnutils_peer echoes) -> TURN -> client, so relayed packets = sent + received. Server
# CPU is utime+stime of its process from /proc (all threads), read before and after (their
# sum is the scheduler's exact run time; the split between them is not: it comes from tick
# samples since the process started, so use perf for where the time goes).
# Needs `coturn` (scripts/deps.sh bench) and a release build of eagw. Binds 127.0.0.1 only.
#
# TURN_CRATE=0 leaves the turn crate out; TCP=0 skips the TCP rounds. PORT_BASE (default
# 22900) moves the TURN, control and peer ports to PORT_BASE..PORT_BASE+59; RELAY_BASE moves
# all relay (and eagw media) ports into RELAY_BASE..RELAY_BASE+1999 (by default they are
# 23000-23799 and 50000-65535), about 450 relay ports per server: keep ALLOCS below 400
# then. Before the load, a wrong password is tried on each server over UDP
# (examples/turn_allocations.rs) and the error code it answers reported (RFC 5389 wants 401;
# turnutils_uclient -w wrong shows only 400s).
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
cargo build --release -q --example turn_allocations
crate=${TURN_CRATE:-1}
[ "$crate" = 0 ] || [ -x target/release/examples/turn_crate_server ] || cargo build --release -q --example turn_crate_server
pb=${PORT_BASE:-22900}
if [ -n "${RELAY_BASE:-}" ]; then
    rb=$RELAY_BASE
    e_relay="$rb $((rb + 449))"; e_media=$((rb + 450)); e_media_n=49
    b_relay="$((rb + 500)) $((rb + 949))"; b_media=$((rb + 950)); b_media_n=49
    c_relay="$((rb + 1000)) $((rb + 1449))"; k_relay="$((rb + 1450)) $((rb + 1999))"
else
    e_relay="50000 53999"; e_media=23000; e_media_n=399
    b_relay="54000 57999"; b_media=23400; b_media_n=399
    c_relay="58000 61999"; k_relay="62000 65535"
fi
secs=$(( rounds * 2 * (msgs * interval / 1000 + 30) + 600 )) # bound of the crate server's run
tmp=$(mktemp -d); trap 'kill $(cat $tmp/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf $tmp' EXIT
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }

conf() { # conf NG_BASE MEDIA_MIN TURN_PORT RELAY_MIN RELAY_MAX MEDIA_COUNT
cat <<CFG
[general]
workers = 2
[control]
ng_udp = ["127.0.0.1:$1"]
http = ["127.0.0.1:$(($1 + 1))"]
[media]
port_min = $2
port_max = $(($2 + ${6:-399}))
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
allow_peers = ["127.0.0.1/32 $((pb + 13))-$((pb + 14))"]
user_quota = 0
total_quota = 0
CFG
}
conf $((pb + 1)) $e_media $((pb + 10)) $e_relay $e_media_n > $tmp/eagw.toml
$eagw run --config $tmp/eagw.toml 2>$tmp/eagw.log & echo $! > $tmp/eagw.pid
if [ -n "$eagw_b" ]; then
    conf $((pb + 31)) $b_media $((pb + 40)) $b_relay $b_media_n > $tmp/eagw_b.toml
    $eagw_b run --config $tmp/eagw_b.toml 2>$tmp/eagw_b.log & echo $! > $tmp/eagw_b.pid
fi
set -- $c_relay
turnserver -n --listening-ip=127.0.0.1 --listening-port=$((pb + 20)) --relay-ip=127.0.0.1 \
  --min-port=$1 --max-port=$2 --lt-cred-mech --user=demo:demo-password --realm=eagw.local \
  --allow-loopback-peers --no-tls --no-dtls --no-cli --no-tcp-relay --relay-threads=2 \
  --pidfile=$tmp/turnserver.pidfile --log-file=$tmp/turnserver.log --simple-log >/dev/null 2>&1 &
echo $! > $tmp/coturn.pid
if [ "$crate" != 0 ]; then
    set -- $k_relay
    target/release/examples/turn_crate_server 127.0.0.1:$((pb + 50)) 127.0.0.1 $1 $2 $secs 2 eagw.local demo=demo-password \
        2>$tmp/crate.log & echo $! > $tmp/crate.pid
fi
turnutils_peer -L 127.0.0.1 -p $((pb + 13)) >/dev/null 2>&1 & echo $! > $tmp/peer.pid
sleep 1.5

run() { # run NAME PID PORT [uclient flags]
    local name=$1 pid=$2 port=$3; shift 3
    local c0; c0=$(cpu "$pid")
    local out; out=$(turnutils_uclient "$@" -c -u demo -w demo-password -p "$port" -e 127.0.0.1 -r $((pb + 13)) \
        -n "$msgs" -m "$clients" -l 172 -z "$interval" 127.0.0.1 2>&1 || true) # a failed run shows as 0 packets
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
# the contestants: NAME PIDFILE PORT, per transport
udp=("$name_a|eagw|$((pb + 10))")
[ -z "$eagw_b" ] || udp+=("$name_b|eagw_b|$((pb + 40))")
udp+=("coturn|coturn|$((pb + 20))")
[ "$crate" = 0 ] || udp+=("turn crate|crate|$((pb + 50))")
tcp=("$name_a|eagw|$((pb + 10))")
[ -z "$eagw_b" ] || tcp+=("$name_b|eagw_b|$((pb + 40))")
tcp+=("coturn|coturn|$((pb + 20))")
rounds_of() { # rounds_of TRANSPORT [uclient flags] < contestants, one a line
    local t=$1; shift; local list; mapfile -t list
    for r in $(seq "$rounds"); do
        local order=("${list[@]}")
        if [ $((r % 2)) = 0 ]; then order=(); for ((i = ${#list[@]} - 1; i >= 0; i--)); do order+=("${list[i]}"); done; fi
        for c in "${order[@]}"; do
            IFS='|' read -r n f p <<<"$c"
            run "$n $t" "$(cat $tmp/$f.pid)" "$p" "$@"
        done
    done
}
echo "wrong password (UDP): the error code answering an Allocate with a wrong MESSAGE-INTEGRITY"
for c in "${udp[@]}"; do
    IFS='|' read -r n f p <<<"$c"
    out=$(timeout 10 target/release/examples/turn_allocations 127.0.0.1:"$p" "$(cat $tmp/$f.pid)" 1 demo wrong || true)
    printf "  %-12s %s\n" "$n" "$(echo "$out" | sed -n 's/.*refused: \([^)]*\)).*/\1/p')"
done
echo "load: $clients clients x $msgs messages of 172 bytes every $interval ms (uclient, channels), $rounds rounds"
printf '%s\n' "${udp[@]}" | rounds_of UDP
[ "${TCP:-1}" = 0 ] || printf '%s\n' "${tcp[@]}" | rounds_of TCP -t
if [ "$allocs" != 0 ]; then
    ulimit -n 65536 2>/dev/null || true
    echo "memory of $allocs concurrent allocations (server RSS growth):"
    printf "eagw        "; target/release/examples/turn_allocations 127.0.0.1:$((pb + 10)) "$(cat $tmp/eagw.pid)" "$allocs"
    printf "coturn      "; target/release/examples/turn_allocations 127.0.0.1:$((pb + 20)) "$(cat $tmp/coturn.pid)" "$allocs"
    if [ "$crate" != 0 ]; then
        printf "turn crate  "; target/release/examples/turn_allocations 127.0.0.1:$((pb + 50)) "$(cat $tmp/crate.pid)" "$allocs"
        echo "  turn crate threads (tasks are not threads; see README): $(awk '/^Threads/ {print $2}' /proc/$(cat $tmp/crate.pid)/status)"
    fi
fi
