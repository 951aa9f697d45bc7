#!/usr/bin/env bash
# Where eagw's and coturn's CPU goes per relayed UDP packet: runs scripts/turn-compare.sh
# (UDP only, no turn crate) and attaches perf to both servers for the whole run.
#
#   scripts/turn-profile.sh record [CLIENTS] [MESSAGES] [INTERVAL_MS] [ROUNDS]   (defaults 50 1000 5 1)
#   scripts/turn-profile.sh trace  [same]
#
# record: `perf record -e cpu-clock -F $FREQ -g` (FREQ default 2000) of each server, then a
# table of µs per relayed packet: total, kernel share, the syscalls and the kernel paths
# under them (children included), from the sample counts. trace: `perf trace -s`, the
# number of each syscall per relayed packet (perf trace slows the servers: its CPU figures
# are not the servers' own). Relayed packets are taken from the load's report (sent +
# received, as turn-compare.sh counts them). PORT_BASE / RELAY_BASE as for turn-compare.sh
# (default 3600 / 61000 here). Needs perf (Debian: linux-perf) and root or
# perf_event_paranoid <= 0; trace needs tracefs (mount -t tracefs nodev /sys/kernel/tracing).
set -eu
mode=${1:-record}; shift || true
clients=${1:-50}; msgs=${2:-1000}; interval=${3:-5}; rounds=${4:-1}
freq=${FREQ:-2000}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
env PORT_BASE="${PORT_BASE:-3600}" RELAY_BASE="${RELAY_BASE:-61000}" TURN_CRATE=0 TCP=0 \
    scripts/turn-compare.sh "$clients" "$msgs" "$interval" "$rounds" 0 >"$out/run" 2>&1 &
sp=$!
e=; c=
for _ in $(seq 100); do
    sleep 0.1
    e=$(pgrep -P $sp -f 'eagw run' | head -1 || true); c=$(pgrep -P $sp -x turnserver | head -1 || true)
    [ -n "$e" ] && [ -n "$c" ] && break
done
[ -n "$e" ] && [ -n "$c" ] || { echo "servers did not start"; cat "$out/run"; exit 1; }
pids=()
for s in eagw coturn; do
    p=$e; [ $s = coturn ] && p=$c
    if [ "$mode" = trace ]; then
        perf trace -s -p "$p" -o "$out/$s.trace" & pids+=($!)
    else
        perf record -q -e cpu-clock -F "$freq" -g -p "$p" -o "$out/$s.data" >/dev/null 2>&1 & pids+=($!)
    fi
done
wait $sp || true
kill -INT "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
grep -E 'UDP|load' "$out/run"
relayed() { # relayed NAME: packets relayed by that server over the run
    awk -v n="$1" '$1 == n && $2 == "UDP" {s += $4} END {print s + 0}' "$out/run"
}
if [ "$mode" = trace ]; then
    for s in eagw coturn; do
        n=$(relayed $s)
        echo "$s: syscalls per relayed packet ($n packets; all threads)"
        awk -v n="$n" '$2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ && NF >= 8 {c[$1] += $2; e[$1] += $3}
            END {for (k in c) if (c[k] / n >= 0.001) {t += c[k] / n; printf "  %-16s %6.3f  (%.3f failed)\n", k, c[k] / n, e[k] / n}
                 printf "  %-16s %6.3f\n", "all", t}' "$out/$s.trace" | sort -k2 -rn
    done
    rm -rf "$out"
    exit 0
fi
syms="entry_SYSCALL_64_after_hwframe __x64_sys_sendto __x64_sys_sendmmsg __x64_sys_recvfrom __x64_sys_recvmmsg
 __sys_recvmsg __x64_sys_epoll_wait udp_sendmsg ip_route_output_flow ip_make_skb do_softirq.part.0
 sock_def_readable sock_wfree udp_recvmsg ep_send_events __schedule"
for s in eagw coturn; do
    n=$(relayed $s)
    k=$(perf script -i "$out/$s.data" -F event 2>/dev/null | wc -l)
    perf report -i "$out/$s.data" --children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9]' |
        awk -v s=$s -v k="$k" -v n="$n" -v f="$freq" '{gsub("%", "", $1); print s, $1 * k / 100 / f * 1e6 / n, $NF}' >>"$out/tab"
    kern=$(perf report -i "$out/$s.data" --no-children --sort dso --stdio 2>/dev/null | awk '/kernel.kallsyms/ {gsub("%", "", $1); print $1}')
    echo "$s TOTAL $(awk -v k="$k" -v n="$n" -v f="$freq" 'BEGIN {print k / f * 1e6 / n}')" >>"$out/tab"
    echo "$s KERNEL% ${kern:-0}" >>"$out/tab"
done
echo "µs of CPU per relayed packet (perf cpu-clock samples; a path includes what it calls)"
printf "  %-32s %8s %8s\n" "" eagw coturn
for s in TOTAL KERNEL% $syms; do
    printf "  %-32s %8s %8s\n" "$s" \
        "$(awk -v s="$s" '$1 == "eagw" && ($3 == s || $2 == s) {printf "%.2f", ($2 == s ? $3 : $2)}' "$out/tab")" \
        "$(awk -v s="$s" '$1 == "coturn" && ($3 == s || $2 == s) {printf "%.2f", ($2 == s ? $3 : $2)}' "$out/tab")"
done
rm -rf "$out"
