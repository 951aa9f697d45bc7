"""The "IMS" side speaking AMR-WB (RFC 4867, bandwidth-efficient, one frame per packet,
12.65 kbit/s) for calls that eagw transcodes (the browser speaks Opus).

Frames come from an AMR-WB storage file made by `examples/amrwb_codec` (libvo-amrwbenc:
Debian's ffmpeg has no AMR-WB encoder); what the peer receives is depacketized here and
decoded by ffmpeg's native AMR-WB decoder, independent of eagw's libopencore. Recording
is written at 8 kHz like the G.711 peer's, so the harness scores both the same way.
"""
import os
import subprocess
import struct
import tempfile
import time
import wave

import numpy as np

from audio import RATE, write_wav
from ims_peer import ImsPeer, parse_sdp

FRAME_BITS = [132, 177, 253, 285, 317, 365, 397, 461, 477, 40]  # FT 0-8 speech, 9 SID
NO_DATA = 0x7C  # storage header of FT 15
AMRWB_CODEC = os.environ.get("EAGW_AMRWB_CODEC") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "target", "release", "examples", "amrwb_codec")


def storage_frames(path: str) -> list[bytes]:
    data = open(path, "rb").read()
    assert data.startswith(b"#!AMR-WB\n"), path
    i, out = 9, []
    while i < len(data):
        ft = (data[i] >> 3) & 15
        n = (FRAME_BITS[ft] + 7) // 8 if ft < 10 else 0
        out.append(data[i:i + 1 + n])
        i += 1 + n
    return out


def packetize(frame: bytes) -> bytes:
    """One storage frame -> bandwidth-efficient payload (CMR 15, one ToC)."""
    ft, q = (frame[0] >> 3) & 15, (frame[0] >> 2) & 1
    nbits = FRAME_BITS[ft] if ft < 10 else 0
    speech = int.from_bytes(frame[1:], "big") >> (len(frame[1:]) * 8 - nbits) if nbits else 0
    bits = (0b1111 << 6 | ft << 1 | q)  # CMR, F=0, FT, Q
    total = 10 + nbits
    v = bits << nbits | speech
    pad = (-total) % 8
    return (v << pad).to_bytes((total + pad) // 8, "big")


def depacketize(payload: bytes) -> list[bytes]:
    """Bandwidth-efficient payload -> storage frames (ValueError if malformed)."""
    total = len(payload) * 8
    v = int.from_bytes(payload, "big")
    pos = 4  # after the CMR

    def take(n):
        nonlocal pos
        if pos + n > total:
            raise ValueError("truncated")
        x = (v >> (total - pos - n)) & ((1 << n) - 1)
        pos += n
        return x

    tocs = []
    while True:
        f, ft, q = take(1), take(4), take(1)
        tocs.append((ft, q))
        if not f:
            break
    out = []
    for ft, q in tocs:
        nbits = FRAME_BITS[ft] if ft < 10 else 0
        s = take(nbits) if nbits else 0
        nbytes = (nbits + 7) // 8
        body = (s << (nbytes * 8 - nbits)).to_bytes(nbytes, "big") if nbits else b""
        out.append(bytes([(ft << 3) | (q << 2)]) + body)
    return out


class AmrwbPeer(ImsPeer):
    def __init__(self, local_port: int, telephone_event: bool = True):
        """telephone_event=False: answer without telephone-event even when it is offered."""
        super().__init__(local_port, "PCMU", None)
        self.telephone_event = telephone_event
        self.codec, self.pt = "AMR-WB", 96
        self._rx_frames: dict[int, bytes] = {}

    def _sdp(self, pt_te, crypto_tag):
        lines = ["v=0", f"o=ims {self._ssrc} 1 IN IP4 127.0.0.1", "s=ims", "c=IN IP4 127.0.0.1",
                 "t=0 0", f"m=audio {self.port} RTP/AVP {self.pt}" + (f" {pt_te}" if pt_te is not None else ""),
                 f"a=rtpmap:{self.pt} AMR-WB/16000"]
        if pt_te is not None:
            lines += [f"a=rtpmap:{pt_te} telephone-event/16000", f"a=fmtp:{pt_te} 0-15"]
        lines += ["a=sendrecv", "a=ptime:20"]
        return "\r\n".join(lines) + "\r\n"

    def answer_sdp(self, offer: str) -> str:
        o = parse_sdp(offer)
        pt = next((p for p, name in o["rtpmap"].items() if name.upper() == "AMR-WB"), None)
        if pt is None:
            raise ValueError(f"relay offer has no AMR-WB: {o['rtpmap']}")
        self.pt = pt
        te = next((p for p, name in o["rtpmap"].items() if name == "telephone-event"), None)
        return self._sdp(te if self.telephone_event else None, 1)

    def play(self, wav_path: str) -> None:
        work = tempfile.mkdtemp(prefix="amrwb-")
        raw, awb = os.path.join(work, "s.s16"), os.path.join(work, "s.awb")
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", wav_path, "-ar", "16000", "-ac", "1",
                        "-f", "s16le", raw], check=True)
        subprocess.run([AMRWB_CODEC, "encode", raw, awb, "2"], check=True)
        import asyncio
        self._send_task = asyncio.ensure_future(self._send_frames(storage_frames(awb)))

    async def _send_frames(self, frames: list[bytes]) -> None:
        import asyncio
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        silence = frames[-1]
        while True:
            f = frames[n] if n < len(frames) else silence
            hdr = struct.pack("!BBHII", 0x80, self.pt | (0x80 if n == 0 else 0), self._seq,
                              (self._ts0 + n * 320) & 0xFFFFFFFF, self._ssrc)
            self._transports[0].sendto(hdr + packetize(f), self.remote)
            self.stats["sent"] += 1
            self._seq = (self._seq + 1) & 0xFFFF
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.020 - loop.time()))

    def _on_rtp(self, data: bytes, addr) -> None:
        if len(data) < 12 or data[0] >> 6 != 2 or (data[1] & 0x7F) != self.pt:
            return
        if self.remote and addr != self.remote:
            self.stats["foreign_packets"] += 1
        ts = struct.unpack_from("!I", data, 4)[0]
        if self.stats["first_rx"] is None:
            self.stats["first_rx"], self.stats["rx_from"] = time.monotonic() - self._t0, list(addr)
            self._rx_ts0 = ts
            self._rx_at = int((time.monotonic() - self._t0) * 50)  # frame index of arrival
        try:
            frames = depacketize(data[12:])
        except ValueError:
            self.stats["bad_payloads"] = self.stats.get("bad_payloads", 0) + 1
            return
        idx = self._rx_at + (((ts - self._rx_ts0 + 0x80000000) & 0xFFFFFFFF) - 0x80000000) // 320
        for k, f in enumerate(frames):
            self._rx_frames[idx + k] = f
        self.stats["received"] += 1

    async def close(self, record_wav: str | None = None) -> dict:
        stats = await super().close(None)
        if record_wav and self._rx_frames:
            last = max(self._rx_frames)
            work = tempfile.mkdtemp(prefix="amrwb-rx-")
            awb = os.path.join(work, "rx.awb")
            with open(awb, "wb") as f:
                f.write(b"#!AMR-WB\n")
                for i in range(0, last + 1):
                    f.write(self._rx_frames.get(i, bytes([NO_DATA])))
            subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-c:a", "amrwb", "-i", awb, "-ar", str(RATE),
                            "-ac", "1", "-sample_fmt", "s16", record_wav], check=True)
        return stats


def through_amrwb_alone(wav_in: str, wav_out: str) -> str:
    """`wav_in` through AMR-WB 12.65 alone (libvo-amrwbenc, ffmpeg's decoder), written at
    8 kHz like the recordings: the ceiling a transcoded path into AMR-WB can reach."""
    work = tempfile.mkdtemp(prefix="amrwb-alone-")
    raw, awb = os.path.join(work, "s.s16"), os.path.join(work, "s.awb")
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", wav_in, "-ar", "16000", "-ac", "1",
                    "-f", "s16le", raw], check=True)
    subprocess.run([AMRWB_CODEC, "encode", raw, awb, "2"], check=True)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-c:a", "amrwb", "-i", awb, "-ar", str(RATE),
                    "-ac", "1", "-sample_fmt", "s16", wav_out], check=True)
    return wav_out


def _selfcheck() -> None:
    import random
    for _ in range(200):
        ft = random.choice(list(range(10)))
        n = (FRAME_BITS[ft] + 7) // 8
        body = bytearray(random.randbytes(n))
        if FRAME_BITS[ft] % 8:
            body[-1] &= (0xFF << (8 - FRAME_BITS[ft] % 8)) & 0xFF
        frame = bytes([(ft << 3) | 4]) + bytes(body)
        assert depacketize(packetize(frame)) == [frame], ft
    print("AMR-WB bandwidth-efficient packetize/depacketize round trip: ok")


if __name__ == "__main__":
    _selfcheck()
