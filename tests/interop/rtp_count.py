#!/usr/bin/env python3
"""Count RTP packets on the loopback interface (stdlib only, needs root).

Sniffs `lo` with an AF_PACKET socket and counts UDP datagrams that look like
RTP (version 2) and that have one of the given ports as source or destination.
Prints one JSON object on exit (SIGTERM/SIGINT or --duration elapsed):
  {"flows": {"127.0.0.1:16000 -> 127.0.0.1:16002": {"packets": N, "bytes": B,
             "pt": [8], "ssrc": [...], "kind": "rtp"}, ...}}
Used to prove that media really flows between the sipp media sockets (and, with
eagw in the path, through the relay ports written into the SDP).

Usage: rtp_count.py --ports 16000,16002 [--duration 15] [--out file.json]
"""
import argparse
import json
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True,
                    help="comma separated UDP ports; a packet is counted if its "
                         "source or destination port is one of them")
    ap.add_argument("--iface", default="lo")
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--out", help="write the JSON here too")
    args = ap.parse_args()
    ports = {int(p) for p in args.ports.split(",") if p}

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((args.iface, 0))
    s.settimeout(0.2)
    flows = {}
    stop = [False]

    def _stop(*_):
        stop[0] = True
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("rtp_count: sniffing %s for ports %s" % (args.iface, sorted(ports)),
          file=sys.stderr, flush=True)

    end = time.time() + args.duration
    while not stop[0] and time.time() < end:
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if addr[2] == PACKET_OUTGOING:      # lo shows every packet twice
            continue
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        if ip[9] != 17:                     # UDP only
            continue
        ihl = (ip[0] & 0x0F) * 4
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        if sport not in ports and dport not in ports:
            continue
        payload = udp[8:ulen]
        if len(payload) < 12 or (payload[0] >> 6) != 2:
            continue                        # not RTP v2
        pt = payload[1] & 0x7F
        if 72 <= pt <= 76:                  # RTCP SR/RR/... (PT 200-204)
            kind = "rtcp"
        else:
            kind = "rtp"
        key = "%s:%d -> %s:%d" % (src, sport, dst, dport)
        f = flows.setdefault(key, {"kind": kind, "packets": 0, "bytes": 0,
                                   "pt": [], "ssrc": []})
        f["packets"] += 1
        f["bytes"] += len(payload)
        ssrc = struct.unpack("!I", payload[8:12] if kind == "rtp" else payload[4:8])[0]
        if ssrc not in f["ssrc"] and len(f["ssrc"]) < 8:
            f["ssrc"].append(ssrc)
        if kind == "rtp" and pt not in f["pt"]:
            f["pt"].append(pt)
    out = json.dumps({"flows": flows}, indent=1, sort_keys=True)
    print(out, flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(out + "\n")


if __name__ == "__main__":
    main()
