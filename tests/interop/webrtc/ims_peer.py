"""The "IMS" side of the harness: a plain-RTP or SDES-SRTP G.711 endpoint.

One UDP socket on `local_port` both sends and receives (symmetric RTP, as a
real IMS media gateway would); RTCP would go to local_port+1, which is bound
only to swallow it. G.711 and SRTP (AES_CM_128_HMAC_SHA1_80, RFC 3711) are
implemented here (numpy + `cryptography`) so the peer shares no code with
any relay. `python ims_peer.py selfcheck` cross-checks G.711 and SRTP against
ffmpeg (and SRTP against libsrtp via pylibsrtp).
"""
import asyncio
import base64
import hashlib
import hmac
import os
import re
import secrets
import struct
import time
import wave

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from audio import RATE, write_wav

PT = {"PCMU": 0, "PCMA": 8}
SUITE = "AES_CM_128_HMAC_SHA1_80"
FRAME = 160  # samples per 20 ms packet


# ------------------------------------------------------------------ G.711 --
def ulaw_encode(x: np.ndarray) -> np.ndarray:
    v = x.astype(np.int32) >> 2  # 14-bit
    mask = np.where(v < 0, 0x7F, 0xFF)
    v = np.minimum(np.abs(v), 8159) + 0x21
    seg = np.floor(np.log2(v)).astype(np.int32) - 5
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | ((v >> (seg + 1)) & 0x0F))
    return (code ^ mask).astype(np.uint8)


def alaw_encode(x: np.ndarray) -> np.ndarray:
    v = x.astype(np.int32) >> 3  # 13-bit
    mask = np.where(v >= 0, 0xD5, 0x55)
    v = np.where(v >= 0, v, -v - 1)
    seg = np.maximum(np.floor(np.log2(np.maximum(v, 1))).astype(np.int32) - 4, 0)
    mant = np.where(seg < 1, v >> 1, v >> np.maximum(seg, 1)) & 0x0F
    code = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | mant)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode_one(u: int) -> int:
    u = ~u & 0xFF
    mag = ((((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84
    return -mag if u & 0x80 else mag


def _alaw_decode_one(a: int) -> int:
    a ^= 0x55
    seg = (a >> 4) & 7
    mag = ((a & 0x0F) << 4) + (8 if seg == 0 else 0x108)
    mag = mag << (seg - 1) if seg > 1 else mag
    return mag if a & 0x80 else -mag


DECODE = {
    "PCMU": np.array([_ulaw_decode_one(i) for i in range(256)], dtype=np.int16),
    "PCMA": np.array([_alaw_decode_one(i) for i in range(256)], dtype=np.int16),
}
ENCODE = {"PCMU": ulaw_encode, "PCMA": alaw_encode}


# ------------------------------------------------------------------- SRTP --
def _aes_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return enc.update(data) + enc.finalize()


class SrtpContext:
    """One direction of AES_CM_128_HMAC_SHA1_80 SRTP (RTP only, kdr = 0,
    no MKI, no replay list). `master` = 16-byte key + 14-byte salt."""

    def __init__(self, master: bytes):
        assert len(master) == 30
        mkey, msalt = master[:16], master[16:]

        def derive(label: int, n: int) -> bytes:
            # x = key_id (label || 48-bit index DIV kdr = 0) XOR master salt; IV = x * 2^16
            x = bytearray(msalt)
            x[7] ^= label
            return _aes_ctr(mkey, bytes(x) + b"\0\0", b"\0" * n)

        self.key, self.auth, self.salt = derive(0, 16), derive(1, 20), derive(2, 14)
        self.roc = 0
        self.s_l = None  # highest sequence number seen (receiver)

    def _iv(self, ssrc: int, index: int) -> bytes:
        iv = bytearray(self.salt + b"\0\0")
        for i, b in enumerate(struct.pack("!I", ssrc)):
            iv[4 + i] ^= b
        for i, b in enumerate(index.to_bytes(6, "big")):
            iv[8 + i] ^= b
        return bytes(iv)

    def _tag(self, authed: bytes, roc: int) -> bytes:
        return hmac.new(self.auth, authed + struct.pack("!I", roc), hashlib.sha1).digest()[:10]

    def protect(self, pkt: bytes, roc: int) -> bytes:
        """Encrypt + authenticate one RTP packet; the caller tracks the ROC."""
        hlen = rtp_header_len(pkt)
        seq, ssrc = struct.unpack_from("!H", pkt, 2)[0], struct.unpack_from("!I", pkt, 8)[0]
        out = pkt[:hlen] + _aes_ctr(self.key, self._iv(ssrc, (roc << 16) | seq), pkt[hlen:])
        return out + self._tag(out, roc)

    def unprotect(self, pkt: bytes) -> bytes | None:
        """Verify + decrypt; returns the plain RTP packet or None on auth failure."""
        body, tag = pkt[:-10], pkt[-10:]
        seq, ssrc = struct.unpack_from("!H", body, 2)[0], struct.unpack_from("!I", body, 8)[0]
        # ROC estimate, RFC 3711 section 3.3.1 / appendix A
        v = self.roc
        if self.s_l is not None:
            if self.s_l < 0x8000:
                v = self.roc - 1 if seq - self.s_l > 0x8000 else self.roc
            else:
                v = self.roc + 1 if self.s_l - 0x8000 > seq else self.roc
        v &= 0xFFFFFFFF
        if not hmac.compare_digest(self._tag(body, v), tag):
            return None
        if self.s_l is None or v > self.roc or (v == self.roc and seq > self.s_l):
            self.roc, self.s_l = v, seq
        hlen = rtp_header_len(body)
        return body[:hlen] + _aes_ctr(self.key, self._iv(ssrc, (v << 16) | seq), body[hlen:])


# -------------------------------------------------------------------- RTP --
def rtp_header_len(pkt: bytes) -> int:
    n = 12 + 4 * (pkt[0] & 0x0F)
    if pkt[0] & 0x10:  # header extension
        n += 4 + 4 * struct.unpack_from("!H", pkt, n + 2)[0]
    return n


def rtp_payload(pkt: bytes) -> bytes:
    end = len(pkt) - (pkt[-1] if pkt[0] & 0x20 else 0)  # strip padding
    return pkt[rtp_header_len(pkt):end]


# -------------------------------------------------------------------- SDP --
def parse_sdp(sdp: str) -> dict:
    """The bits of the relay's SDP the IMS peer needs (first audio m= only)."""
    out = {"addr": None, "port": None, "proto": None, "pts": [], "rtpmap": {}, "crypto": []}
    in_audio = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            if out["port"] is not None:
                break
            f = line[2:].split()
            in_audio = f[0] == "audio"
            if in_audio:
                out["port"], out["proto"], out["pts"] = int(f[1]), f[2], [int(p) for p in f[3:]]
        elif line.startswith("c=") and (in_audio or out["addr"] is None):
            out["addr"] = line.split()[2]
        elif in_audio and (m := re.match(r"a=rtpmap:(\d+) ([^/]+)/(\d+)", line)):
            out["rtpmap"][int(m[1])] = m[2]
        elif in_audio and (m := re.match(r"a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)", line)):
            key = m[3] + "=" * (-len(m[3]) % 4)  # rtpengine leaves out the padding
            out["crypto"].append((int(m[1]), m[2], base64.b64decode(key)))
    return out


class _Sink(asyncio.DatagramProtocol):
    def __init__(self, on_packet=None):
        self.on_packet = on_packet

    def datagram_received(self, data, addr):
        if self.on_packet:
            self.on_packet(data, addr)


class ImsPeer:
    """G.711 RTP/SRTP endpoint on 127.0.0.1:local_port.

    Usage: `await open()`; `offer_sdp()` or `answer_sdp(relay_offer)`;
    `set_remote(relay_sdp)`; `play(wav)`; ...; `await close(record_wav)`."""

    def __init__(self, local_port: int, codec: str = "PCMU", srtp: str | None = None):
        assert codec in PT and srtp in (None, "sdes")
        self.port, self.codec, self.srtp = local_port, codec, srtp
        self.pt = PT[codec]
        self.master = secrets.token_bytes(30)  # our SDES send key + salt
        self.crypto_tag = 1
        self.remote = None
        self.rx_ctx = None
        self.rx_master = None
        self.stats = {"sent": 0, "received": 0, "srtp_auth_failures": 0, "foreign_packets": 0,
                      "first_rx": None, "rx_from": None}
        self.rtcp: list[bytes] = []  # datagrams received on the RTCP port
        self._ssrc = secrets.randbits(32)
        self._seq = secrets.randbits(16)
        self._roc = 0
        self._ts0 = secrets.randbits(32)
        self._tx_ctx = SrtpContext(self.master) if srtp else None
        self._rec = np.zeros(RATE * 180, dtype=np.int16)  # up to 3 min
        self._rec_end = 0
        self._rx_base = {}  # ssrc -> (first ts, position in _rec)
        self._last_pos = {}
        self._transports = []
        self._send_task = None

    # ------------------------------------------------------------ SDP --
    def _sdp(self, pt_te: int | None, crypto_tag: int) -> str:
        proto = "RTP/SAVP" if self.srtp else "RTP/AVP"
        pts = f"{self.pt}" + (f" {pt_te}" if pt_te is not None else "")
        lines = ["v=0", f"o=ims {self._ssrc} 1 IN IP4 127.0.0.1", "s=ims", "c=IN IP4 127.0.0.1",
                 "t=0 0", f"m=audio {self.port} {proto} {pts}", f"a=rtpmap:{self.pt} {self.codec}/8000"]
        if pt_te is not None:
            lines += [f"a=rtpmap:{pt_te} telephone-event/8000", f"a=fmtp:{pt_te} 0-16"]
        lines += ["a=sendrecv", "a=ptime:20"]
        if self.srtp:
            key = base64.b64encode(self.master).decode()
            lines.append(f"a=crypto:{crypto_tag} {SUITE} inline:{key}")
        return "\r\n".join(lines) + "\r\n"

    def offer_sdp(self) -> str:
        return self._sdp(101, self.crypto_tag)

    def answer_sdp(self, offer: str) -> str:
        """Answer the relay's offer with our codec (+ telephone-event if offered)."""
        o = parse_sdp(offer)
        if self.pt not in o["pts"]:
            raise ValueError(f"relay offer has no {self.codec}: m= payload types {o['pts']}")
        te = next((pt for pt, name in o["rtpmap"].items() if name == "telephone-event"), None)
        if self.srtp:
            tags = [t for t, suite, _ in o["crypto"] if suite == SUITE]
            if not tags:
                raise ValueError(f"relay offer has no {SUITE} a=crypto line")
            self.crypto_tag = tags[0]
        return self._sdp(te, self.crypto_tag)

    def set_remote(self, sdp: str) -> None:
        """Take the relay's SDP toward us (offer or answer): where to send,
        and for SDES the key the relay encrypts with."""
        r = parse_sdp(sdp)
        self.remote = (r["addr"], r["port"])
        if self.srtp:
            keys = [k for t, suite, k in r["crypto"] if suite == SUITE and t == self.crypto_tag]
            if not keys:
                raise ValueError(f"relay SDP has no a=crypto:{self.crypto_tag} {SUITE}")
            if keys[0] != self.rx_master:  # keep ROC state across an unchanged re-offer
                self.rx_master, self.rx_ctx = keys[0], SrtpContext(keys[0])

    # ------------------------------------------------------------ media --
    async def open(self) -> None:
        """Bind RTP (and an RTCP sink on port+1); recording starts now."""
        loop = asyncio.get_running_loop()
        self._t0 = time.monotonic()
        for port, cb in ((self.port, self._on_rtp), (self.port + 1, self._on_rtcp)):
            tr, _ = await loop.create_datagram_endpoint(lambda cb=cb: _Sink(cb),
                                                        local_addr=("127.0.0.1", port))
            self._transports.append(tr)

    def play(self, wav_path: str) -> None:
        """Start sending the WAV (8 kHz mono s16), then silence, every 20 ms."""
        with wave.open(wav_path, "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2), wav_path
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        self._send_task = asyncio.ensure_future(self._send_loop(ENCODE[self.codec](pcm)))

    async def _send_loop(self, payload: np.ndarray) -> None:
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        silence = ENCODE[self.codec](np.zeros(FRAME, np.int16)).tobytes()
        while True:
            chunk = payload[n * FRAME:(n + 1) * FRAME].tobytes()
            chunk += silence[len(chunk):]
            hdr = struct.pack("!BBHII", 0x80, self.pt | (0x80 if n == 0 else 0), self._seq,
                              (self._ts0 + n * FRAME) & 0xFFFFFFFF, self._ssrc)
            pkt = hdr + chunk
            if self._tx_ctx:
                pkt = self._tx_ctx.protect(pkt, self._roc)
            self._transports[0].sendto(pkt, self.remote)
            self.stats["sent"] += 1
            self._seq = (self._seq + 1) & 0xFFFF
            self._roc += self._seq == 0
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.020 - loop.time()))

    def _on_rtcp(self, data: bytes, addr) -> None:
        """RTCP from the relay (port+1): kept raw, for the caller to parse."""
        if len(self.rtcp) < 1000:
            self.rtcp.append(data)

    def _on_rtp(self, data: bytes, addr) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
            return  # not RTP (or RTCP on the RTP port)
        if self.remote and addr != self.remote:
            self.stats["foreign_packets"] += 1
        if self.rx_ctx:
            data = self.rx_ctx.unprotect(data)
            if data is None:
                self.stats["srtp_auth_failures"] += 1
                return
        elif self.srtp:
            return  # SRTP before we know the key
        pt = data[1] & 0x7F
        if pt != self.pt:
            return  # telephone-event, comfort noise, ...
        ts, ssrc = struct.unpack_from("!II", data, 4)
        now = int((time.monotonic() - self._t0) * RATE)
        if self.stats["first_rx"] is None:
            self.stats["first_rx"], self.stats["rx_from"] = now / RATE, list(addr)
        if ssrc not in self._rx_base:
            # new stream: its first packet lands at its arrival time
            self._rx_base[ssrc] = (ts, now)
        ts0, pos0 = self._rx_base[ssrc]
        pos = pos0 + ((ts - ts0 + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        pcm = DECODE[self.codec][np.frombuffer(rtp_payload(data), np.uint8)]
        if 0 <= pos and pos + len(pcm) <= len(self._rec):
            self._rec[pos:pos + len(pcm)] = pcm
            self._rec_end = max(self._rec_end, pos + len(pcm))
        self.stats["received"] += 1

    async def close(self, record_wav: str | None = None) -> dict:
        """Stop sending, close sockets, write what was received (gaps = silence)."""
        if self._send_task:
            self._send_task.cancel()
            try:
                await self._send_task
            except asyncio.CancelledError:
                pass
        for tr in self._transports:
            tr.close()
        if record_wav:
            write_wav(record_wav, self._rec[:self._rec_end])
        return dict(self.stats)


# -------------------------------------------------------------- selfcheck --
def _selfcheck() -> None:
    """G.711 and SRTP interop with ffmpeg and libsrtp; all on 127.0.0.1:47000-47011."""
    import warnings

    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import audioop  # stdlib up to 3.12: reference G.711
    import shutil
    import socket
    import subprocess
    import tempfile

    import pylibsrtp

    from audio import align, make_speech, read_wav

    x = np.arange(-32768, 32768, dtype=np.int16)
    for name, ref in (("PCMU", audioop.lin2ulaw), ("PCMA", audioop.lin2alaw)):
        assert ENCODE[name](x).tobytes() == ref(x.tobytes(), 2), name
        back = {"PCMU": audioop.ulaw2lin, "PCMA": audioop.alaw2lin}[name](bytes(range(256)), 2)
        assert DECODE[name].tobytes() == back, name
    print("G.711 encode/decode == audioop: ok")

    tmp = tempfile.mkdtemp()
    speech = make_speech(os.path.join(tmp, "s.wav"), 3)
    pcm = read_wav(speech)
    key = secrets.token_bytes(30)
    b64 = base64.b64encode(key).decode()

    # libsrtp decrypts ours, across a ROC wrap
    pol = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                           srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    sess, ctx, roc, seq = pylibsrtp.Session(pol), SrtpContext(key), 0, 0xFFF0
    for i in range(40):
        plain = struct.pack("!BBHII", 0x80, 0, seq, i * 160, 1234) + bytes([i]) * 160
        assert sess.unprotect(ctx.protect(plain, roc)) == plain
        seq = (seq + 1) & 0xFFFF
        roc += seq == 0
    # ... and we decrypt libsrtp's
    pol = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                           srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    sess, ctx, seq = pylibsrtp.Session(pol), SrtpContext(key), 0xFFF0
    for i in range(40):
        plain = struct.pack("!BBHII", 0x80, 0, seq, i * 160, 99) + bytes([i]) * 160
        assert ctx.unprotect(sess.protect(plain)) == plain
        seq = (seq + 1) & 0xFFFF
    print("SRTP vs libsrtp (both ways, ROC wrap): ok")

    # ffmpeg sends SRTP PCMU, we decrypt + decode
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 47000))
    rx.settimeout(2)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-re", "-i", speech, "-c:a", "pcm_mulaw",
                    "-ar", "8000", "-ac", "1", "-f", "rtp", "-srtp_out_suite", SUITE,
                    "-srtp_out_params", b64, "srtp://127.0.0.1:47000?localport=47010&pkt_size=172"],
                   check=True, stdout=subprocess.DEVNULL)
    ctx, out = SrtpContext(key), []
    try:
        while True:
            p = ctx.unprotect(rx.recv(2048))
            assert p is not None, "auth failure on ffmpeg's SRTP"
            out.append(DECODE["PCMU"][np.frombuffer(rtp_payload(p), np.uint8)])
    except socket.timeout:
        pass
    got = np.concatenate(out)
    _, lag = align(pcm, got)
    err = np.abs(got[lag:lag + len(pcm) - 800].astype(int) - pcm[:len(pcm) - 800]).max()
    print(f"ffmpeg -> us: {len(out)} SRTP packets decrypted, lag {lag}, max abs err {err}")
    assert len(out) > 100 and err < 1100, "ffmpeg SRTP decode mismatch"

    # we send SRTP PCMU, ffmpeg decrypts (SDP input with a=crypto)
    sdp_path, wav_out = os.path.join(tmp, "in.sdp"), os.path.join(tmp, "ffout.wav")
    with open(sdp_path, "w") as f:
        f.write("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                f"m=audio 47002 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                f"a=crypto:1 {SUITE} inline:{b64}\r\n")
    ff = subprocess.Popen(["ffmpeg", "-y", "-loglevel", "error", "-protocol_whitelist",
                           "file,udp,rtp,srtp", "-i", sdp_path, "-t", "2", wav_out])
    time.sleep(0.7)
    tx, ctx, enc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), SrtpContext(key), ulaw_encode(pcm)
    for n in range(len(enc) // FRAME):
        hdr = struct.pack("!BBHII", 0x80, 0, (0xFFC0 + n) & 0xFFFF, n * FRAME, 777)
        tx.sendto(ctx.protect(hdr + enc[n * FRAME:(n + 1) * FRAME].tobytes(), int(0xFFC0 + n > 0xFFFF)),
                  ("127.0.0.1", 47002))
        time.sleep(0.02)
    ff.wait(timeout=10)
    got = read_wav(wav_out)
    _, lag = align(pcm, got)
    seg = got[max(lag, 0):][:len(pcm) // 2].astype(int)
    err = np.abs(seg - pcm[:len(seg)]).max()
    print(f"us -> ffmpeg: decoded {len(got)} samples, lag {lag}, max abs err {err}")
    assert len(got) >= 2 * RATE and err < 1100, "ffmpeg could not decrypt our SRTP"
    shutil.rmtree(tmp)
    print("selfcheck: all ok")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["selfcheck"]:
        _selfcheck()
    else:
        print(__doc__)
