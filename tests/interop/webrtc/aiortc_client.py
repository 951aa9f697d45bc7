"""WebRTC client side of the harness, built on aiortc.

Loopback only: aioice's host-address discovery skips 127.0.0.1 and would
gather every other interface, so `aioice.ice.get_host_addresses` is replaced
(module-level patch, done on import) to return just 127.0.0.1; no STUN/TURN
servers are configured (aiortc would otherwise default to a public STUN
server). The SDP filter below still drops any non-loopback candidate, as a
second guard.

Audio: PCMU/PCMA only (aiortc has no telephone-event codec to offer). The
microphone is the speech WAV played once in 20 ms frames, then silence; the
received audio is written to a WAV (8 kHz, gaps filled with silence by RTP
timestamp).

ICE restart: aiortc 1.16 cannot do it (no createOffer(iceRestart=...) or
restartIce(); the ICE ufrag/pwd belong to an aioice Connection that is
created once and cannot gather or check again), so restart_ice() returns None.
"""
import asyncio
import fractions
import time

import aioice.ice
import numpy as np
from aiortc import (RTCConfiguration, RTCPeerConnection, RTCRtpSender,
                    RTCSessionDescription)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from audio import RATE, read_wav, write_wav

LOOPBACK = ("127.0.0.1", "::1")
FRAME = 160  # 20 ms at 8 kHz

aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []


def filter_sdp(sdp: str) -> str:
    """Drop a=candidate lines not on loopback; point c=/m= at the first kept
    component-1 candidate (aiortc puts its default candidate there)."""
    out, default = [], None
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            if f[4] not in LOOPBACK:
                continue
            if default is None and f[1] == "1":
                default = (f[4], f[5])
        out.append(line)
    if default:
        ip, port = default
        fam = "IP6" if ":" in ip else "IP4"
        for i, line in enumerate(out):
            if line.startswith("c="):
                out[i] = f"c=IN {fam} {ip}"
            elif line.startswith("m=audio "):
                f = line.split()
                f[1] = port
                out[i] = " ".join(f)
    return "\r\n".join(out) + "\r\n"


class WavTrack(MediaStreamTrack):
    """Audio source: the WAV once in real time, then silence."""

    kind = "audio"

    def __init__(self, path: str):
        super().__init__()
        self.pcm = read_wav(path)
        self.n = 0
        self.start = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self.start is None:
            self.start = loop.time()
        await asyncio.sleep(max(0.0, self.start + self.n * 0.020 - loop.time()))
        chunk = self.pcm[self.n * FRAME:(self.n + 1) * FRAME]
        chunk = np.concatenate([chunk, np.zeros(FRAME - len(chunk), np.int16)])
        frame = AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self.n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        self.n += 1
        return frame


class AiortcClient:
    def __init__(self):
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = None
        self.record_wav = None
        self._rec = np.zeros(RATE * 180, np.int16)
        self._rec_end = 0
        self._rec_task = None
        self.dropped_client_hellos = 0
        self.pc.on("track", self._on_track)

    async def start(self, speech_wav: str, record_wav: str) -> None:
        self.track = WavTrack(speech_wav)
        self.record_wav = record_wav
        self._t0 = time.monotonic()

    def _add_transceiver(self) -> None:
        tr = self.pc.addTransceiver(self.track, direction="sendrecv")
        self._drop_conflicting_client_hello(tr.receiver.transport)
        caps = RTCRtpSender.getCapabilities("audio").codecs
        want = [c.lower() for c in getattr(self, "codecs", None) or ["PCMU", "PCMA"]]
        tr.setCodecPreferences(sorted((c for c in caps if c.mimeType.lower()[6:] in want),
                                      key=lambda c: want.index(c.mimeType.lower()[6:])))

    def _drop_conflicting_client_hello(self, dtls) -> None:
        """Discard a DTLS ClientHello that arrives while we are the DTLS client.

        A relay that answers a=setup:passive may still have sent a ClientHello
        as soon as ICE completed, before it knew its role (rtpengine 10.5 does
        this when the WebRTC side offers actpass). libwebrtc drops such a
        "ClientHello with conflicting role"; aiortc would fail the handshake on
        it, so do as browsers do. Counted in stats() as droppedClientHellos."""
        ice = dtls.transport
        recv = ice._recv

        async def filtered() -> bytes:
            while True:
                data = await recv()
                # DTLS record: content type 22 (handshake), handshake type at byte 13: 1 = ClientHello
                if dtls._role == "client" and len(data) > 13 and data[0] == 22 and data[13] == 1:
                    self.dropped_client_hellos += 1
                    continue
                return data

        ice._recv = filtered

    def _on_track(self, track) -> None:
        if track.kind == "audio":
            self._rec_task = asyncio.ensure_future(self._record(track))

    async def _record(self, track) -> None:
        """Place decoded frames by their pts (RTP timestamp based); the first
        frame lands at its arrival time since start()."""
        base = None
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            pcm = read_frame(frame)
            if base is None:
                base = int((time.monotonic() - self._t0) * RATE) - frame.pts
            pos = base + frame.pts
            if 0 <= pos and pos + len(pcm) <= len(self._rec):
                self._rec[pos:pos + len(pcm)] = pcm
                self._rec_end = max(self._rec_end, pos + len(pcm))

    async def create_offer(self) -> str:
        self._add_transceiver()
        await self.pc.setLocalDescription(await self.pc.createOffer())  # gathers fully
        return filter_sdp(self.pc.localDescription.sdp)

    async def set_answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def accept_offer(self, sdp: str) -> str:
        self._add_transceiver()  # setRemoteDescription adopts it for the audio m= line
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return filter_sdp(self.pc.localDescription.sdp)

    async def restart_ice(self) -> str | None:
        return None  # not supported by aiortc, see module docstring

    async def stats(self) -> dict:
        out = {"packetsReceived": 0, "packetsSent": 0, "concealedSamples": None,
               "totalSamplesReceived": None, "iceState": self.pc.iceConnectionState,
               "dtlsState": None, "droppedClientHellos": self.dropped_client_hellos}
        for s in (await self.pc.getStats()).values():
            if s.type == "inbound-rtp":
                out["packetsReceived"] += s.packetsReceived
            elif s.type == "outbound-rtp":
                out["packetsSent"] += s.packetsSent
            elif s.type == "remote-inbound-rtp":
                # the far end's report blocks about what we send (the relay's, with generate-RTCP)
                out["remoteInbound"] = {"packetsLost": s.packetsLost, "fractionLost": s.fractionLost,
                                        "roundTripTime": s.roundTripTime, "ssrc": s.ssrc}
        for tr in self.pc.getTransceivers():
            if tr.sender.transport:
                out["dtlsState"] = tr.sender.transport.state
        return out

    async def close(self) -> None:
        await self.pc.close()
        if self._rec_task:
            self._rec_task.cancel()
        if self.record_wav:
            write_wav(self.record_wav, self._rec[:self._rec_end])


def read_frame(frame: AudioFrame) -> np.ndarray:
    """Decoded aiortc audio frame -> 8 kHz mono int16 (G.711 decodes to that already)."""
    assert frame.sample_rate == RATE and frame.format.name == "s16", (frame.sample_rate, frame.format)
    return frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0]
