#!/usr/bin/env python3
"""Tiny fake rtpengine "ng" server (stdlib only) for interop smoke tests.

Listens on UDP 127.0.0.1:PORT, decodes bencode, logs every request (raw bytes,
escaped) to a log file, and answers:
  ping               -> d6:result4:ponge
  offer / answer     -> result: ok, sdp: <the request's sdp, unchanged>
  delete             -> result: ok
  query              -> result: ok (empty totals)
  anything else      -> result: error, error-reason: ...

It does not touch media: the SDP is returned unchanged, so RTP flows directly
between the endpoints. Used to validate the Kamailio config and the sipp
scenarios without eagw.

With --forward HOST:PORT it is instead a logging ng proxy: every request is
passed unchanged to that ng server (e.g. a real rtpengine, or eagw) and its
reply is returned unchanged; both are logged. Handy to record a reference
server's exact replies.

Usage: fake_ng.py [--port 2223] [--log captured.log] [--pidfile f]
                  [--forward 127.0.0.1:2224]
"""
import argparse
import os
import signal
import socket
import sys
import time


# ---------------------------------------------------------------- bencode --
class BencodeError(ValueError):
    pass


def bdecode(data, i=0):
    """Decode one bencode value from bytes `data` at offset i -> (value, next_i)."""
    if i >= len(data):
        raise BencodeError("truncated")
    c = data[i:i + 1]
    if c == b"i":
        j = data.index(b"e", i)
        return int(data[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            v, i = bdecode(data, i)
            out[k] = v
        return out, i + 1
    if c.isdigit():
        j = data.index(b":", i)
        n = int(data[i:j])
        s = data[j + 1:j + 1 + n]
        if len(s) != n:
            raise BencodeError("truncated string")
        return s, j + 1 + n
    raise BencodeError("bad byte %r at %d" % (c, i))


def bencode(v):
    if isinstance(v, bool):
        v = int(v)
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"%d:%s" % (len(v), bytes(v))
    if isinstance(v, (list, tuple)):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        # insertion order (ng does not require sorted keys; we keep "result" first)
        out = b"d"
        for k, x in v.items():
            out += bencode(k) + bencode(x)
        return out + b"e"
    raise TypeError(type(v))


def to_text(v):
    """bytes-in-structure -> str-in-structure, for pretty logging."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "backslashreplace")
    if isinstance(v, list):
        return [to_text(x) for x in v]
    if isinstance(v, dict):
        return {to_text(k): to_text(x) for k, x in v.items()}
    return v


# ----------------------------------------------------------------- server --
def handle(req):
    cmd = req.get(b"command", b"").decode("utf-8", "replace")
    if cmd == "ping":
        return {"result": "pong"}
    if cmd in ("offer", "answer"):
        if b"sdp" not in req:
            return {"result": "error", "error-reason": "No SDP body in message"}
        return {"result": "ok", "sdp": req[b"sdp"]}
    if cmd == "delete":
        return {"result": "ok"}
    if cmd == "query":
        return {"result": "ok", "created": int(time.time()), "tags": {},
                "totals": {"RTP": {"packets": 0, "bytes": 0, "errors": 0},
                           "RTCP": {"packets": 0, "bytes": 0, "errors": 0}}}
    return {"result": "error", "error-reason": "Unrecognized command"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2223)
    ap.add_argument("--log", default="fake_ng.log")
    ap.add_argument("--pidfile")
    ap.add_argument("--forward", metavar="HOST:PORT",
                    help="proxy requests to this ng server instead of answering")
    args = ap.parse_args()
    upstream = None
    if args.forward:
        h, _, p = args.forward.rpartition(":")
        upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        upstream.bind((args.host, 0))
        upstream.connect((h, int(p)))
        upstream.settimeout(2.0)

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.host, args.port))
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    log = open(args.log, "a", buffering=1)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print("fake_ng listening on %s:%d, log %s" % (args.host, args.port, args.log),
          file=sys.stderr, flush=True)

    while True:
        data, peer = sock.recvfrom(65535)
        ts = time.strftime("%H:%M:%S") + ".%03d" % (int(time.time() * 1000) % 1000)
        sp = data.find(b" ")
        cookie, body = (data[:sp], data[sp + 1:]) if sp > 0 else (b"", data)
        try:
            req, end = bdecode(body)
            if not isinstance(req, dict):
                raise BencodeError("not a dictionary")
            resp = handle(req)
            pretty = to_text(req)
        except (BencodeError, ValueError) as e:
            resp = {"result": "error", "error-reason": "Failed to parse: %s" % e}
            pretty = None
        out = cookie + b" " + bencode(resp)
        if upstream is not None:
            try:
                upstream.send(data)
                while True:
                    out = upstream.recv(65535)
                    if out.split(b" ", 1)[0] == cookie:
                        break
            except (socket.timeout, OSError) as e:
                log.write("=== upstream %s failed: %s (request %s)\n"
                          % (args.forward, e, cookie.decode("utf-8", "replace")))
                continue
        sock.sendto(out, peer)
        # raw request exactly as received (escaped so CR/LF in the SDP stay visible)
        log.write("=== %s from %s:%d (%d bytes)\n" % (ts, peer[0], peer[1], len(data)))
        log.write("RAW  %s\n" % data.decode("utf-8", "backslashreplace")
                  .replace("\r", "\\r").replace("\n", "\\n"))
        if pretty is not None:
            log.write("DICT %r\n" % (pretty,))
        log.write("REPLY %s\n" % out.decode("utf-8", "backslashreplace")
                  .replace("\r", "\\r").replace("\n", "\\n"))


if __name__ == "__main__":
    main()
