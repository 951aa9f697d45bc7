"""WebRTC audio endpoint backed by a real headless Chromium, driven over CDP.

Same async interface as aiortc_client.Client (start / create_offer / set_answer /
accept_offer / restart_ice / stats / close). The microphone is Chromium's fake
capture device fed from a WAV file (looped); received audio is tapped from the
remote track with an AudioWorklet and written to a 16-bit mono WAV on close().

Loopback only: every SDP handed to the caller carries only UDP candidates on
127.0.0.1/::1 and its c=/m= port point at one of them. Chromium enumerates
interfaces and (with --allow-loopback-in-peer-connection) does gather real
127.0.0.1/::1 host candidates, but it ranks loopback networks as "unknown"
(network-cost 50) and eth0 as ethernet (cost 0), so its ICE then selects a pair
from its eth0 socket to the peer's 127.0.0.1 and sends from a non-loopback
source address. Default mode (wildcard_sockets=True) therefore uses the IP
handling policy default_public_and_private_interfaces: the sockets are bound
to 0.0.0.0/:: and advertised with the default-route address, which filter_sdp
rewrites to 127.0.0.1/::1 (same port, same socket). The kernel then picks
127.0.0.1 as the source towards a loopback peer, and Chromium reports its side
of the selected pair as a prflx 127.0.0.1 candidate.

Page: served from http://127.0.0.1:<ephemeral>/ by a small in-process HTTP
server (a secure context, so getUserMedia works).
"""
import asyncio
import base64
import http.server
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import wave

import websockets

CHROMIUM = "/usr/bin/chromium"
CDP_TIMEOUT = 15.0        # default per-call timeout (s)
GATHER_TIMEOUT_MS = 10000  # max wait for ICE gathering in the page
CAPTURE_RATE = 48000      # rate the fake-capture WAV is converted to
LOOPBACK = ("127.0.0.1", "::1")


class ChromiumError(RuntimeError):
    """Chromium died, a CDP call failed or timed out, or page JS threw."""


# --------------------------------------------------------------------------
# Page served to Chromium (from http://127.0.0.1:<port>/, a secure context).

_WORKLET = r"""
// Batches mono input into 4800-frame Float32 chunks and posts them to the page.
class Rec extends AudioWorkletProcessor {
  constructor() { super(); this.buf = new Float32Array(4800); this.n = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    const frames = ch ? ch.length : 128;
    for (let i = 0; i < frames; i++) {
      this.buf[this.n++] = ch ? ch[i] : 0;
      if (this.n === this.buf.length) {
        this.port.postMessage(this.buf, [this.buf.buffer]);
        this.buf = new Float32Array(4800); this.n = 0;
      }
    }
    return true;
  }
}
registerProcessor('rec', Rec);
"""

_PAGE_JS = r"""
'use strict';
const S = {pc: null, stream: null, track: null, ctx: null, tx: null, codecs: [], dtmf: true,
           munge: false, remote: null, rec: [], recLen: 0, recording: false, pcm: null, log: []};
function log(m) { S.log.push((performance.now() / 1000).toFixed(3) + ' ' + m); }

async function init(cfg, codecs, dtmf) {
  S.codecs = codecs; S.dtmf = dtmf;
  // No echo cancellation / noise suppression / AGC: keep the speech as it is in the file.
  S.stream = await navigator.mediaDevices.getUserMedia({video: false, audio: {
    echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
  S.track = S.stream.getAudioTracks()[0];
  S.ctx = new AudioContext();
  const url = URL.createObjectURL(new Blob([WORKLET], {type: 'application/javascript'}));
  await S.ctx.audioWorklet.addModule(url);
  await S.ctx.resume();
  S.pc = new RTCPeerConnection(cfg);
  S.pc.ontrack = onTrack;
  for (const ev of ['iceconnectionstatechange', 'connectionstatechange', 'icegatheringstatechange',
                    'signalingstatechange'])
    S.pc.addEventListener(ev, () => log(ev + ': ice=' + S.pc.iceConnectionState + ' conn=' +
      S.pc.connectionState + ' gather=' + S.pc.iceGatheringState + ' sig=' + S.pc.signalingState));
  return {secure: isSecureContext, track: S.track.label, trackState: S.track.readyState,
          settings: S.track.getSettings(), ctxState: S.ctx.state, rate: S.ctx.sampleRate};
}

// Tap the remote audio into the recorder (once; later tracks are ignored).
function onTrack(e) {
  log('track ' + e.track.kind + ' streams=' + e.streams.length);
  if (S.remote || e.track.kind !== 'audio') return;
  const ms = e.streams[0] || new MediaStream([e.track]);   // remote SDP may have no a=msid
  S.remote = ms;
  // Chromium only pulls remote WebRTC audio (into WebAudio, and into the
  // totalSamplesReceived stats) while the stream is also attached to a media
  // element; a muted one is enough. Without it the recording is silent.
  const el = new Audio(); el.muted = true; el.srcObject = ms;
  el.play().catch(err => log('audio element play: ' + err));
  S.audioEl = el;
  const src = S.ctx.createMediaStreamSource(ms);
  const node = new AudioWorkletNode(S.ctx, 'rec', {numberOfInputs: 1, numberOfOutputs: 1,
    channelCount: 1, channelCountMode: 'explicit', channelInterpretation: 'speakers'});
  node.port.onmessage = (m) => { if (S.recording) { S.rec.push(m.data); S.recLen += m.data.length; } };
  const sink = S.ctx.createGain(); sink.gain.value = 0;      // keep the node pulled, silently
  src.connect(node); node.connect(sink); sink.connect(S.ctx.destination);
  S.recording = true;
}

// Restrict a transceiver to the wanted codecs (+ telephone-event/8000), first = preferred.
function prefer(tx) {
  const caps = RTCRtpReceiver.getCapabilities('audio').codecs;
  const want = [];
  for (const name of S.codecs)
    for (const c of caps)
      if (c.mimeType.toLowerCase() === 'audio/' + name.toLowerCase() && !want.includes(c)) want.push(c);
  if (S.dtmf)
    for (const c of caps)
      if (c.mimeType.toLowerCase() === 'audio/telephone-event' && c.clockRate === 8000) want.push(c);
  try { tx.setCodecPreferences(want); }
  catch (err) { log('setCodecPreferences failed, munging SDP: ' + err); S.munge = true; }
}

// Fallback: keep only the wanted payload types on the audio m= line.
function mungeCodecs(sdp) {
  const lines = sdp.split('\r\n'), names = {};
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) ([^\/]+)\/(\d+)/.exec(l);
    if (m) names[m[1]] = [m[2].toLowerCase(), +m[3]];
  }
  const keep = [];
  for (const n of S.codecs)
    for (const pt in names) if (names[pt][0] === n.toLowerCase() && !keep.includes(pt)) keep.push(pt);
  if (S.dtmf)
    for (const pt in names) if (names[pt][0] === 'telephone-event' && names[pt][1] === 8000) keep.push(pt);
  const out = [];
  for (const l of lines) {
    const m = /^m=audio (\d+) (\S+) /.exec(l);
    if (m) { out.push(`m=audio ${m[1]} ${m[2]} ${keep.join(' ')}`); continue; }
    const a = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)/.exec(l);
    if (a && !keep.includes(a[2])) continue;
    out.push(l);
  }
  return out.join('\r\n');
}

// Resolves when ICE gathering finished after a setLocalDescription (or no gathering
// was started, e.g. a re-offer without ICE restart), or after timeoutMs.
function gatherWaiter(timeoutMs) {
  const pc = S.pc, t0 = performance.now();
  let started = false;
  return new Promise(resolve => {
    const finish = (why) => {
      clearInterval(iv); pc.removeEventListener('icegatheringstatechange', on);
      log('gathering: ' + why); resolve(why);
    };
    const on = () => {
      if (pc.iceGatheringState === 'gathering') started = true;
      else if (pc.iceGatheringState === 'complete') finish('complete');
    };
    pc.addEventListener('icegatheringstatechange', on);
    const iv = setInterval(() => {
      const dt = performance.now() - t0;
      if (!started && pc.iceGatheringState === 'complete' && dt > 500) finish('nothing to gather');
      else if (dt > timeoutMs) finish('timeout');
    }, 50);
  });
}

async function setLocal(desc, timeoutMs) {
  if (S.munge) desc = {type: desc.type, sdp: mungeCodecs(desc.sdp)};
  const done = gatherWaiter(timeoutMs);
  await S.pc.setLocalDescription(desc);
  await done;
  return S.pc.localDescription.sdp;
}

async function createOffer(timeoutMs) {
  if (!S.tx) {
    S.tx = S.pc.addTransceiver(S.track, {direction: 'sendrecv', streams: [S.stream]});
    prefer(S.tx);
  }
  return setLocal(await S.pc.createOffer(), timeoutMs);
}

async function setAnswer(sdp) {
  await S.pc.setRemoteDescription({type: 'answer', sdp});
}

async function acceptOffer(sdp, timeoutMs) {
  await S.pc.setRemoteDescription({type: 'offer', sdp});
  for (const tx of S.pc.getTransceivers()) {
    if (tx.receiver.track.kind !== 'audio' || tx.currentDirection === 'stopped') continue;
    if (!tx.sender.track) { await tx.sender.replaceTrack(S.track); tx.sender.setStreams(S.stream); }
    tx.direction = 'sendrecv';
    prefer(tx);
    if (!S.tx) S.tx = tx;
  }
  return setLocal(await S.pc.createAnswer(), timeoutMs);
}

async function restartIce(timeoutMs) {
  S.pc.restartIce();
  return setLocal(await S.pc.createOffer(), timeoutMs);
}

async function stats() {
  const all = {};
  (await S.pc.getStats()).forEach(s => { all[s.id] = s; });
  const out = {packetsReceived: 0, packetsSent: 0, concealedSamples: 0, totalSamplesReceived: 0,
               iceState: null, dtlsState: null, selectedPair: null,
               pcIceState: S.pc.iceConnectionState, connectionState: S.pc.connectionState,
               recordedSamples: S.recLen};
  let pairId = null;
  for (const s of Object.values(all)) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.packetsReceived += s.packetsReceived || 0;
      out.concealedSamples += s.concealedSamples || 0;
      out.totalSamplesReceived += s.totalSamplesReceived || 0;
      out.packetsLost = (out.packetsLost || 0) + (s.packetsLost || 0);
      out.jitter = s.jitter;
      if (s.codecId && all[s.codecId]) out.recvCodec = all[s.codecId].mimeType;
    } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
      out.packetsSent += s.packetsSent || 0;
      if (s.codecId && all[s.codecId]) out.sendCodec = all[s.codecId].mimeType;
    } else if (s.type === 'transport') {
      out.iceState = s.iceState || S.pc.iceConnectionState;
      out.dtlsState = s.dtlsState;
      pairId = s.selectedCandidatePairId;
    }
  }
  const addr = (c) => {
    const ip = c.address || c.ip;
    return (ip.includes(':') ? '[' + ip + ']' : ip) + ':' + c.port;
  };
  const pair = pairId && all[pairId];
  if (pair && all[pair.localCandidateId] && all[pair.remoteCandidateId])
    out.selectedPair = {local: addr(all[pair.localCandidateId]), remote: addr(all[pair.remoteCandidateId]),
                        localType: all[pair.localCandidateId].candidateType,
                        remoteType: all[pair.remoteCandidateId].candidateType, state: pair.state};
  return out;
}

// Stop recording and convert to 16-bit PCM; returns [samples, rate].
function stopRecording() {
  if (!S.pcm) {
    S.recording = false;
    const pcm = new Int16Array(S.recLen);
    let o = 0;
    for (const c of S.rec)
      for (let i = 0; i < c.length; i++) {
        const v = Math.max(-1, Math.min(1, c[i]));
        pcm[o++] = v < 0 ? v * 32768 : v * 32767;
      }
    S.pcm = pcm; S.rec = [];
  }
  return [S.pcm.length, S.ctx.sampleRate];
}

// base64 of recorded samples [start, start+count) as little-endian int16.
function recChunk(start, count) {
  const b = new Uint8Array(S.pcm.buffer, start * 2, Math.min(count, S.pcm.length - start) * 2);
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
  return btoa(s);
}

// RFC 4733 telephone-events through the sender's RTCDTMFSender; resolves when ontonechange
// reports the end (tone ''), with every tonechange as [tone, ms since insertDTMF].
function sendDtmf(tones, duration, gap) {
  const d = S.tx && S.tx.sender.dtmf;
  if (!d || !d.canInsertDTMF) throw new Error('DTMF not negotiated');
  const t0 = performance.now(), changes = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('DTMF never ended: ' + JSON.stringify(changes))), 10000);
    d.ontonechange = (e) => {
      changes.push([e.tone, Math.round(performance.now() - t0)]);
      if (e.tone === '') { clearTimeout(timer); d.ontonechange = null; resolve(changes); }
    };
    d.insertDTMF(tones, duration, gap);
  });
}

function closePc() {
  if (S.pc) S.pc.close();
  if (S.track) S.track.stop();
}

window.eagw = {init, createOffer, setAnswer, acceptOffer, restartIce, stats, stopRecording, recChunk,
               sendDtmf, closePc, log: () => S.log, ready: true};
"""

_PAGE = ("<!doctype html><html><head><meta charset=utf-8><title>eagw peer</title></head><body>"
         "<script>const WORKLET = " + json.dumps(_WORKLET) + ";\n" + _PAGE_JS + "</script></body></html>")


class _PageHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        body = _PAGE.encode() if self.path in ("/", "/index.html") else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# --------------------------------------------------------------------------
# SDP filtering

def _loopback_for(addr: str) -> str:
    return "::1" if ":" in addr else "127.0.0.1"


def filter_sdp(sdp: str, rewrite: bool = False, ipv6: bool = True) -> str:
    """Make an SDP loopback-only.

    Drops TCP candidates, mDNS (.local) names and IPv6 link-local addresses.
    With rewrite=False every UDP candidate not on 127.0.0.1/::1 is dropped;
    with rewrite=True (Chromium's sockets are bound to the wildcard address,
    see ChromiumClient) a non-loopback address is replaced by the loopback
    address of its family, same port, which reaches the same socket.
    raddr (srflx/relay base) is rewritten likewise. ipv6=False drops IPv6
    candidates (Chromium prefers ::1 pairs when both families are offered).
    Then each m-section's c= line and m= port point at its first RTP
    (component 1) candidate, IPv4 first (0.0.0.0 and port 9 if none is left)."""
    sections, cur = [], []
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m=") and cur:
            sections.append(cur)
            cur = []
        if line:
            cur.append(line)
    sections.append(cur)

    out = []
    for sec in sections:
        kept, cands, seen = [], [], set()
        for line in sec:
            if line.startswith("a=candidate:"):
                # a=candidate:<foundation> <component> <transport> <prio> <addr> <port> typ <type> ...
                f = line.split(" ")
                if len(f) < 8 or f[2].lower() != "udp" or f[4].endswith(".local") or f[4].lower().startswith("fe80:"):
                    continue
                if not ipv6 and ":" in f[4]:
                    continue
                if f[4] not in LOOPBACK:
                    if not rewrite:
                        continue
                    f[4] = _loopback_for(f[4])
                if "raddr" in f[:-1]:
                    i = f.index("raddr") + 1
                    if f[i] not in LOOPBACK + ("0.0.0.0", "::"):
                        f[i] = _loopback_for(f[i])
                key = (f[1], f[4], f[5])
                if key in seen:
                    continue
                seen.add(key)
                if f[1] == "1":
                    cands.append((f[4], f[5]))
                line = " ".join(f)
            kept.append(line)
        if sec and sec[0].startswith("m="):
            # default address: first loopback RTP candidate, else JSEP's "none yet" 0.0.0.0:9
            ip, port = sorted(cands, key=lambda c: ":" in c[0])[0] if cands else ("0.0.0.0", "9")
            fam = "IP6" if ":" in ip else "IP4"
            for i, line in enumerate(kept):
                if line.startswith("m="):
                    f = line.split(" ")
                    f[1] = port
                    kept[i] = " ".join(f)
                elif line.startswith("c="):
                    kept[i] = f"c=IN {fam} {ip}"
                elif line.startswith("a=rtcp:") and line.split()[-1] not in LOOPBACK + ("0.0.0.0", "::"):
                    kept[i] = f"a=rtcp:{port} IN {fam} {ip}"   # rtcp-mux: RTCP on the RTP address
        out.extend(kept)
    return "\r\n".join(out) + "\r\n"


def sdp_ice_ufrag(sdp: str) -> str | None:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return None


# --------------------------------------------------------------------------
# Audio helpers

def wav_info(path: str) -> tuple[int, int, int]:
    """(rate, channels, sample width) of a WAV file."""
    with wave.open(path, "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth()


def convert_wav(src: str, dst: str, rate: int = CAPTURE_RATE) -> str:
    """Resample any audio file to mono s16 WAV at `rate` with ffmpeg."""
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", src, "-ar", str(rate), "-ac", "1",
                    "-sample_fmt", "s16", dst], check=True)
    return dst


def make_speech_wav(text: str, dst: str, rate: int = CAPTURE_RATE) -> str:
    """espeak-ng speech as mono s16 WAV at `rate`."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "espeak.wav")
        subprocess.run(["espeak-ng", "-w", raw, text], check=True, capture_output=True)
        return convert_wav(raw, dst, rate)


# --------------------------------------------------------------------------
# Minimal CDP client: one browser websocket, flattened target sessions.

class _Cdp:
    def __init__(self, ws, on_dead):
        self.ws = ws
        self.on_dead = on_dead      # () -> ChromiumError describing why
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.dead: ChromiumError | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                fut = self.pending.pop(msg.get("id"), None) if "id" in msg else None
                if fut is not None:
                    if not fut.done():
                        fut.set_result(msg)
                elif msg.get("method") in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled",
                                           "Inspector.targetCrashed", "Target.targetCrashed"):
                    self.events.append(msg)
                    del self.events[:-200]
        except Exception:  # noqa: BLE001 (connection loss is reported below)
            pass
        await asyncio.sleep(0.3)   # let a dying Chromium exit so the report has its exit code
        self.fail(self.on_dead())

    def fail(self, err: ChromiumError):
        if self.dead is None:
            self.dead = err
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(self.dead)
        self.pending.clear()

    async def call(self, method: str, params: dict | None = None, session: str | None = None,
                   timeout: float = CDP_TIMEOUT) -> dict:
        if self.dead:
            raise self.dead
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = fut
        await self.ws.send(json.dumps(msg))
        try:
            reply = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.pending.pop(msg["id"], None)
            raise ChromiumError(f"CDP {method} timed out after {timeout}s\n{self.on_dead()}") from None
        if "error" in reply:
            raise ChromiumError(f"CDP {method} failed: {reply['error']}")
        return reply.get("result", {})

    async def close(self):
        self.reader.cancel()
        try:
            await self.ws.close()
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------

class ChromiumClient:
    """One headless Chromium = one RTCPeerConnection with one audio transceiver."""

    def __init__(self, chromium: str = CHROMIUM, workdir: str | None = None,
                 rtc_config: dict | None = None, codecs: list[str] | None = None,
                 telephone_event: bool = True, wildcard_sockets: bool = True, ipv6: bool = True,
                 extra_args: list[str] | None = None):
        """wildcard_sockets=True: WebRTC sockets bound to 0.0.0.0/:: (IP handling
        policy default_public_and_private_interfaces) and candidates rewritten to
        loopback, so all ICE/media uses loopback. False: Chromium enumerates
        interfaces and we keep only its real 127.0.0.1/::1 candidates, but then
        its ICE prefers pairs from eth0's address (cost 0) over the loopback
        ones (cost 50) and sends from a non-loopback source.
        ipv6=False: offer/answer only IPv4 (127.0.0.1) candidates."""
        self.chromium = chromium
        self.rtc_config = rtc_config or {"bundlePolicy": "balanced", "rtcpMuxPolicy": "require"}
        self.codecs = codecs or ["PCMU", "PCMA"]
        self.telephone_event = telephone_event
        self.wildcard_sockets = wildcard_sockets
        self.ipv6 = ipv6
        self.extra_args = extra_args or []
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="eagw-chromium-")
        os.makedirs(self.workdir, exist_ok=True)
        self.profile = None
        self.proc: subprocess.Popen | None = None
        self.httpd = None
        self.cdp: _Cdp | None = None
        self.session = None
        self.record_wav = None
        self.info: dict = {}
        self._recorded = False
        self._closed = False
        self._watcher = None

    # -- process / page plumbing --------------------------------------------------

    def _binary(self) -> str:
        # Debian's /usr/bin/chromium is a shell wrapper that adds its own flags
        # (remote extensions, GPU rasterization, ...); run the real binary next to it.
        real = "/usr/lib/chromium/chromium"
        try:
            with open(self.chromium, "rb") as f:
                if f.read(2) == b"#!" and os.path.exists(real):
                    return real
        except OSError:
            pass
        return self.chromium

    def _args(self, capture_wav: str, url: str) -> list[str]:
        return [
            self._binary(),
            "--headless=new", "--no-sandbox",
            f"--user-data-dir={self.profile}",
            "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
            # media: auto-grant getUserMedia, fake mic fed from the WAV, no autoplay gate
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={capture_wav}",
            "--autoplay-policy=no-user-gesture-required",
            # WebRTC: wildcard-bound sockets (see module docstring), else per-interface
            # sockets incl. 127.0.0.1/::1; real IPs, not mDNS names (gUM permission
            # already implies that, the feature switch makes sure)
            *(["--webrtc-ip-handling-policy=default_public_and_private_interfaces"]
              if self.wildcard_sockets else []),
            "--allow-loopback-in-peer-connection",
            "--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints,Translate,"
            "AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
            # no outside connections: no background services, no DNS but for localhost
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--no-default-browser-check", "--disable-default-apps",
            "--metrics-recording-only", "--disable-domain-reliability",
            "--disable-client-side-phishing-detection", "--disable-breakpad", "--disable-crash-reporter",
            "--no-pings",
            "--disable-field-trial-config", "--safebrowsing-disable-auto-update",
            "--disable-extensions", "--password-store=basic",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            # keep timers and audio running at full speed in a page nobody looks at
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--disable-gpu", "--disable-dev-shm-usage",
            *self.extra_args,
            url,
        ]

    def stderr_tail(self, lines: int = 30) -> str:
        """Last Chromium log lines (dbus noise filtered out)."""
        try:
            with open(os.path.join(self.workdir, "chromium.log"), errors="replace") as f:
                text = [ln.rstrip() for ln in f if "dbus" not in ln and ln.strip()]
        except OSError:
            return "(no chromium log)"
        return "\n".join(text[-lines:])

    def _death_report(self) -> ChromiumError:
        rc = self.proc.poll() if self.proc else None
        state = f"exited with {rc}" if rc is not None else "still running"
        return ChromiumError(f"Chromium ({state}); stderr tail:\n{self.stderr_tail()}")

    async def _js(self, expr: str, timeout: float = CDP_TIMEOUT):
        """Evaluate `expr` in the page, await its promise, return its JSON value."""
        if self.cdp is None:
            raise ChromiumError("client not started")
        if self.proc and self.proc.poll() is not None:
            self.cdp.fail(self._death_report())
        res = await self.cdp.call("Runtime.evaluate",
                                  {"expression": expr, "awaitPromise": True, "returnByValue": True},
                                  session=self.session, timeout=timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            desc = d.get("exception", {}).get("description") or d.get("text")
            raise ChromiumError(f"page JS failed in {expr[:60]!r}: {desc}")
        return res.get("result", {}).get("value")

    async def _call(self, fn: str, *args, timeout: float = CDP_TIMEOUT):
        return await self._js(f"eagw.{fn}({', '.join(json.dumps(a) for a in args)})", timeout)

    # -- public interface ---------------------------------------------------------

    async def start(self, speech_wav: str, record_wav: str) -> None:
        self.record_wav = record_wav
        # Chromium's fake capture resamples PCM WAVs itself (s16/s32/f32 at 8, 16,
        # 44.1 and 48 kHz all verified) but not e.g. A-law ones; anything but
        # mono s16 48 kHz is normalised to that first.
        capture = os.path.abspath(speech_wav)
        try:
            native = wav_info(capture) == (CAPTURE_RATE, 1, 2)
        except (wave.Error, EOFError):
            native = False
        if not native:
            capture = convert_wav(capture, os.path.join(self.workdir, "capture48k.wav"))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

        self.profile = tempfile.mkdtemp(prefix="profile-", dir=self.workdir)
        log = open(os.path.join(self.workdir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(self._args(capture, url), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

        # DevTools port from <profile>/DevToolsActivePort ("port\n/devtools/browser/<id>")
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise self._death_report()
            try:
                with open(port_file) as f:
                    port, path = f.read().split("\n")[:2]
                if port and path:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ChromiumError(f"no DevToolsActivePort after 20 s\n{self.stderr_tail()}")
            await asyncio.sleep(0.05)
        ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None,
                                      ping_interval=None, open_timeout=10)
        self.cdp = _Cdp(ws, self._death_report)
        self._watcher = asyncio.create_task(self._watch_process())

        # attach to our page (the tab opened with `url`) and wait until its script ran
        deadline = time.monotonic() + 20
        while self.session is None:
            targets = (await self.cdp.call("Target.getTargets"))["targetInfos"]
            page = next((t for t in targets if t["type"] == "page" and t["url"].startswith(url)), None)
            if page:
                self.session = (await self.cdp.call("Target.attachToTarget",
                                                    {"targetId": page["targetId"], "flatten": True}))["sessionId"]
            elif time.monotonic() > deadline:
                raise ChromiumError(f"page {url} never appeared: {targets}")
            else:
                await asyncio.sleep(0.05)
        while True:
            try:
                if await self._js("window.eagw ? eagw.ready : false", timeout=5):
                    break
            except ChromiumError:
                if self.cdp.dead:
                    raise
            if time.monotonic() > deadline:
                href = await self._js("location.href", timeout=5)
                raise ChromiumError(f"page script did not load (at {href})\n{self.stderr_tail()}")
            await asyncio.sleep(0.05)

        self.info = await self._call("init", self.rtc_config, self.codecs, self.telephone_event)
        if not self.info.get("secure") or self.info.get("trackState") != "live":
            raise ChromiumError(f"getUserMedia did not give a live track: {self.info}")

    async def _watch_process(self):
        while self.proc and self.proc.poll() is None and not self._closed:
            await asyncio.sleep(0.2)
        if not self._closed and self.cdp:
            self.cdp.fail(self._death_report())

    def _filter(self, sdp: str) -> str:
        return filter_sdp(sdp, rewrite=self.wildcard_sockets, ipv6=self.ipv6)

    async def create_offer(self) -> str:
        return self._filter(await self._call("createOffer", GATHER_TIMEOUT_MS, timeout=CDP_TIMEOUT + 10))

    async def set_answer(self, sdp: str) -> None:
        await self._call("setAnswer", sdp)

    async def accept_offer(self, sdp: str) -> str:
        return self._filter(await self._call("acceptOffer", sdp, GATHER_TIMEOUT_MS, timeout=CDP_TIMEOUT + 10))

    async def restart_ice(self) -> str | None:
        return self._filter(await self._call("restartIce", GATHER_TIMEOUT_MS, timeout=CDP_TIMEOUT + 10))

    async def stats(self) -> dict:
        return await self._call("stats")

    async def send_dtmf(self, tones: str, duration_ms: int = 100, gap_ms: int = 70) -> list:
        """Send DTMF digits as telephone-event packets (needs telephone-event negotiated) with
        RTCDTMFSender.insertDTMF; returns once ontonechange reported the end: every
        tonechange as [tone, ms after insertDTMF], the last one ["", ms]."""
        return await self._call("sendDtmf", tones, duration_ms, gap_ms)

    async def page_log(self) -> list[str]:
        """Timestamped PeerConnection state changes logged in the page (debugging)."""
        return await self._call("log")

    async def stop_recording(self) -> str | None:
        """Stop recording and write record_wav (16-bit mono at the AudioContext rate)."""
        if self._recorded or not self.record_wav:
            return self.record_wav
        count, rate = await self._call("stopRecording")
        pcm = bytearray()
        step = 1 << 20
        for start in range(0, count, step):
            pcm += base64.b64decode(await self._call("recChunk", start, step, timeout=60))
        with wave.open(self.record_wav, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(bytes(pcm))
        self._recorded = True
        return self.record_wav

    async def close(self) -> None:
        """Save the recording, close the pc, kill Chromium, remove its profile."""
        if self._closed:
            return
        error = None
        try:
            if self.cdp and not self.cdp.dead and self.info:   # page initialised
                await self.stop_recording()
                await self._call("closePc")
        except Exception as e:  # noqa: BLE001 (cleanup must go on; re-raised below)
            error = e
        self._closed = True
        if self._watcher:
            self._watcher.cancel()
        if self.cdp:
            if not self.cdp.dead:   # graceful exit first: Chromium stops its child processes
                try:
                    await self.cdp.call("Browser.close", timeout=3)
                except Exception:  # noqa: BLE001
                    pass
            await self.cdp.close()
        if self.proc:
            for stop in (None, self.proc.terminate):
                if self.proc.poll() is None:
                    if stop:
                        stop()
                    try:
                        await asyncio.to_thread(self.proc.wait, 5)
                    except subprocess.TimeoutExpired:
                        pass
            try:   # leftovers of its process group (zygote, renderers, utility processes)
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if error:
            raise error

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
