"""Minimal rtpengine "ng" control-protocol client: bencode over UDP.

Datagram = b"<cookie> <bencoded dict>"; the reply echoes the cookie.
"""
import secrets
import socket


def bencode(value) -> bytes:
    """Encode str/bytes/int/list/dict (keys kept in insertion order; the ng
    protocol does not require sorted keys)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, (list, tuple)):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in value.items()) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def bdecode(data: bytes):
    """Decode one complete bencode value; byte strings become str (UTF-8,
    undecodable bytes kept via surrogateescape)."""
    value, end = _decode(data, 0)
    if end != len(data):
        raise ValueError(f"trailing bytes after bencode value at {end}")
    return value


def _decode(data: bytes, i: int):
    c = data[i:i + 1]
    if c == b"i":
        j = data.index(b"e", i)
        return int(data[i + 1:j]), j + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = _decode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i = {}, i + 1
        while data[i:i + 1] != b"e":
            k, i = _decode(data, i)
            out[k], i = _decode(data, i)
        return out, i + 1
    if c.isdigit():
        j = data.index(b":", i)
        n = int(data[i:j])
        if j + 1 + n > len(data):
            raise ValueError("truncated string")
        return data[j + 1:j + 1 + n].decode("utf-8", "surrogateescape"), j + 1 + n
    raise ValueError(f"bad bencode at offset {i}: {c!r}")


class NgError(RuntimeError):
    """The relay answered `result: error` (or no usable reply)."""


class NgClient:
    def __init__(self, host: str, port: int, timeout: float = 1.0, tries: int = 3):
        self.addr = (host, port)
        self.timeout = timeout
        self.tries = tries

    def request(self, msg: dict) -> dict:
        """Send one command; the same cookie is retransmitted on timeout."""
        cookie = secrets.token_hex(6)
        wire = cookie.encode() + b" " + bencode(msg)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(self.timeout)
            for _ in range(self.tries):
                s.sendto(wire, self.addr)
                try:
                    while True:
                        data, _ = s.recvfrom(65535)
                        got, _, body = data.partition(b" ")
                        if got.decode(errors="replace") == cookie:
                            break  # replies with foreign cookies are ignored
                except socket.timeout:
                    continue
                reply = bdecode(body)
                if reply.get("result") == "error":
                    raise NgError(f"{msg.get('command')}: {reply.get('error-reason', '?')}")
                return reply
        raise NgError(f"{msg.get('command')}: no reply from {self.addr} after {self.tries} tries")
