#!/usr/bin/env python3
"""One WebRTC <-> IMS audio call through an rtpengine-"ng" media relay, scored with NB-PESQ.

WebRTC client (aiortc or Chromium) <-> relay <-> ImsPeer (plain RTP or SDES-SRTP),
signalled over ng with the flags Kamailio uses for WebRTC<->IMS. Speech flows
both ways once DTLS is up; afterwards the call is queried and deleted, and
each side's recording is scored against the other side's speech.
Exit 0 only if every check passes. Loopback only.
"""
import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time

import numpy as np
from audio import RATE, dtmf_digits, make_speech, pesq_nb_detail, read_wav, write_wav
from amrwb_peer import AmrwbPeer
from ims_peer import ImsPeer
from ng import NgClient

SPEECH_S = 9.0  # 1 s of silence, then ~7.5 s of speech
DTMF_MS = (200, 100)  # --dtmf: each digit's duration and the gap after it (insertDTMF)
MIN_PESQ = 3.5
# AMR-WB 12.65 (transcoded from the browser's Opus by the relay): NB-PESQ of the AMR-WB
# codec alone on the same speech is the ceiling; the path may be this much below it
MAX_BELOW_AMRWB_ALONE = 0.3  # browser Opus + the relay's transcoding, in real time
WEBRTC_ATTRS = ("a=fingerprint:", "a=setup:", "a=ice-ufrag:", "a=candidate:")


def make_client(kind: str, args=None):
    if kind == "chromium":
        from chromium_client import ChromiumClient  # written separately; imported only when asked for
        cfg = {"bundlePolicy": "balanced", "rtcpMuxPolicy": "require"}
        if args is not None and args.turn:
            cfg["iceServers"] = [{"urls": args.turn, "username": args.turn_user,
                                  "credential": args.turn_password}]
        if args is not None and args.relay_only:
            cfg["iceTransportPolicy"] = "relay"
        return ChromiumClient(rtc_config=cfg, extra_args=(args.chromium_arg if args is not None else None))
    from aiortc_client import AiortcClient
    return AiortcClient()


def free_rtp_port() -> int:
    """An even UDP port on 127.0.0.1 with port+1 free as well (RTP + RTCP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1] & ~1
        try:
            for p in (port, port + 1):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as t:
                    t.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no free RTP port pair")


def sdp_setup(sdp: str) -> str | None:
    m = re.search(r"^a=setup:(\w+)", sdp, re.M)
    return m and m[1]


def sdp_ufrag(sdp: str) -> str | None:
    m = re.search(r"^a=ice-ufrag:(\S+)", sdp, re.M)
    return m and m[1]


def sdp_proto(sdp: str) -> str | None:
    m = re.search(r"^m=audio \d+ (\S+)", sdp, re.M)
    return m and m[1]


class Call:
    def __init__(self, args):
        self.a = args
        host, port = args.ng.rsplit(":", 1)
        self.ng = NgClient(host, int(port))
        self.call_id = "webrtc-" + secrets.token_hex(6)
        self.web_tag, self.ims_tag = "web" + secrets.token_hex(4), "ims" + secrets.token_hex(4)
        self.sdp = {}  # name -> SDP, in signalling order
        self.ims_proto = "RTP/SAVP" if args.ims == "sdes" else "RTP/AVP"

    async def ng_request(self, msg: dict) -> dict:
        msg = {"call-id": self.call_id, **msg}
        return await asyncio.to_thread(self.ng.request, msg)

    def _dtls(self) -> dict:
        d = {} if self.a.dtls == "default" else {"DTLS": self.a.dtls}
        if self.a.generate_rtcp:
            d["generate RTCP"] = "on"  # the relay terminates RTCP and sends its own SR/RR
        return d

    async def webrtc_offers(self, offer: str, step: str) -> None:
        """The client's offer goes to IMS; the IMS answer comes back as WebRTC."""
        self.sdp[f"{step}: webrtc offer"] = offer
        msg = {"command": "offer", "from-tag": self.web_tag, "sdp": offer, "ICE": "remove",
               "DTLS": "off", "rtcp-mux": ["demux"], "transport-protocol": self.ims_proto,
               "replace": ["origin", "session-connection"]}
        if self.a.generate_rtcp:
            msg["flags"] = ["generate-RTCP"]
        if self.a.ims == "rtp":
            msg["SDES"] = ["off"]
        if self.a.codec == "AMR-WB":
            # the IMS side speaks only AMR-WB: the relay adds it and transcodes (Kamailio:
            # codec-mask-all codec-transcode-AMR-WB)
            msg["codec"] = {"mask": ["all"], "transcode": ["AMR-WB"]}
        if step != "initial":
            msg["to-tag"] = self.ims_tag  # re-offer inside the dialog
        to_ims = self.sdp[f"{step}: relay offer to ims"] = (await self.ng_request(msg))["sdp"]
        answer = self.sdp[f"{step}: ims answer"] = self.ims.answer_sdp(to_ims)
        self.ims.set_remote(to_ims)
        msg = {"command": "answer", "from-tag": self.web_tag, "to-tag": self.ims_tag, "sdp": answer,
               "ICE": self.a.ice_webrtc, "transport-protocol": "UDP/TLS/RTP/SAVPF", "rtcp-mux": ["require"],
               **self._dtls(), "replace": ["origin", "session-connection"]}
        to_web = self.sdp[f"{step}: relay answer to webrtc"] = (await self.ng_request(msg))["sdp"]
        await self.client.set_answer(to_web)
        self.to_ims, self.to_web, self.web_sdp = to_ims, to_web, offer

    async def ims_offers(self) -> None:
        """The IMS offer goes to the client; its answer comes back as RTP/SRTP."""
        offer = self.sdp["initial: ims offer"] = self.ims.offer_sdp()
        msg = {"command": "offer", "from-tag": self.ims_tag, "sdp": offer, "ICE": self.a.ice_webrtc,
               "transport-protocol": "UDP/TLS/RTP/SAVPF", "rtcp-mux": ["offer"], **self._dtls(),
               "SDES": ["off"], "replace": ["origin", "session-connection"]}
        to_web = self.sdp["initial: relay offer to webrtc"] = (await self.ng_request(msg))["sdp"]
        answer = self.sdp["initial: webrtc answer"] = await self.client.accept_offer(to_web)
        msg = {"command": "answer", "from-tag": self.ims_tag, "to-tag": self.web_tag, "sdp": answer,
               "ICE": "remove", "DTLS": "off", "transport-protocol": self.ims_proto,
               "rtcp-mux": ["demux"], "replace": ["origin", "session-connection"]}
        if self.a.generate_rtcp:
            msg["flags"] = ["generate-RTCP"]
        to_ims = self.sdp["initial: relay answer to ims"] = (await self.ng_request(msg))["sdp"]
        self.ims.set_remote(to_ims)
        self.to_ims, self.to_web, self.web_sdp = to_ims, to_web, answer

    async def wait_connected(self, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            st = await self.client.stats()
            if st["iceState"] in ("connected", "completed") and st["dtlsState"] == "connected":
                return True
            await asyncio.sleep(0.05)
        return False

    def relay_dtls_role(self, query: dict) -> tuple[str | None, str | None]:
        """The relay's DTLS role toward the client: (from the query's media
        flags "DTLS role X", from the final SDP pair)."""
        from_query = None
        for media in query.get("tags", {}).get(self.web_tag, {}).get("medias", []):
            for flag in media.get("flags", []):
                if flag.startswith("DTLS role "):
                    from_query = flag.split()[-1]
        relay, client = sdp_setup(self.to_web), sdp_setup(self.web_sdp)
        from_sdp = relay if relay in ("active", "passive") else \
            {"active": "passive", "passive": "active"}.get(client)
        return from_query, from_sdp

    async def run(self) -> dict:
        a = self.a
        work = a.workdir or tempfile.mkdtemp(prefix="webrtc-call-")
        os.makedirs(work, exist_ok=True)
        f = {k: os.path.join(work, k + ".wav")
             for k in ("speech_webrtc", "speech_ims", "rec_webrtc", "rec_ims", "rec_ims_speech")}
        speech_s = max(2.0, min(SPEECH_S, a.seconds - 1.0))  # leave >= 1 s of slack to record
        make_speech(f["speech_webrtc"], speech_s, "webrtc")
        make_speech(f["speech_ims"], speech_s, "ims")

        self.client = make_client(a.client, a)
        if a.codec == "AMR-WB":
            self.client.codecs = ["opus", "PCMU", "PCMA"]  # the browser's default preference
        port = a.ims_port or free_rtp_port()
        # with --dtmf the AMR-WB peer takes no telephone-event: eagw has to play tones
        self.ims = AmrwbPeer(port, telephone_event=not a.dtmf) if a.codec == "AMR-WB" else \
            ImsPeer(port, a.codec, "sdes" if a.ims == "sdes" else None)
        res = {"pesq_ims": None, "pesq_webrtc": None, "client_stats": {}, "query": {},
               "dtls_role_relay": None, "checks": {}, "pass": False, "ims_stats": {},
               "ice_restart": None, "workdir": work, "sdp": self.sdp}
        checks = res["checks"]
        t_start = time.monotonic()
        try:
            await self.ims.open()
            await self.client.start(f["speech_webrtc"], f["rec_webrtc"])
            if a.offerer == "webrtc":
                await self.webrtc_offers(await self.client.create_offer(), "initial")
            else:
                await self.ims_offers()
            checks["connected"] = await self.wait_connected()
            res["setup_s"] = round(time.monotonic() - t_start, 2)
            if checks["connected"]:
                self.ims.play(f["speech_ims"])
                await asyncio.sleep(a.seconds / 2)
                if a.ice_restart:
                    await self.ice_restart(res, a.seconds / 2)
                else:
                    await asyncio.sleep(a.seconds / 2)
                if a.dtmf:
                    await self.send_dtmf(res)
            res["query"] = await self.ng_request({"command": "query", "from-tag": self.web_tag})
            res["client_stats"] = await self.client.stats()
        except Exception as e:  # reported as a failed check, with the SDPs so far
            res["error"] = f"{type(e).__name__}: {e}"
            checks["no_error"] = False
        finally:
            try:
                await self.ng_request({"command": "delete", "from-tag": self.web_tag})
            except Exception as e:
                res["delete_error"] = repr(e)
            await self.client.close()
            res["ims_stats"] = await self.ims.close(f["rec_ims"])

        self.score(res, f)
        res["elapsed_s"] = round(time.monotonic() - t_start, 2)
        return res

    async def send_dtmf(self, res: dict) -> None:
        """After the speech the browser sends --dtmf (RTCDTMFSender.insertDTMF) and waits
        for ontonechange's end; the IMS peer's recording from here on holds the digits
        (eagw's tones), what came before is the speech that PESQ scores."""
        res["dtmf_at_s"] = time.monotonic() - self.ims._t0  # the peer's recording time
        res["dtmf_tonechanges"] = await self.client.send_dtmf(self.a.dtmf, *DTMF_MS)
        await asyncio.sleep(0.6)  # the last tone through eagw's jitter buffer and the peer

    def check_dtmf(self, res: dict, f: dict) -> None:
        """Splits the IMS peer's recording at the moment the browser started sending
        DTMF: the digits heard after it (audio.dtmf_digits) must be exactly --dtmf,
        before it (the speech) none; the speech part goes to PESQ alone."""
        checks = res["checks"]
        checks["dtmf_answer_to_webrtc_has_telephone_event"] = "telephone-event" in getattr(self, "to_web", "")
        checks["dtmf_ims_answer_without_telephone_event"] = \
            "telephone-event" not in self.sdp.get("initial: ims answer", "telephone-event")
        rec = read_wav(f["rec_ims"]) if os.path.exists(f["rec_ims"]) else np.zeros(0, np.int16)
        cut = int(res.get("dtmf_at_s", 1e9) * RATE)
        write_wav(f["rec_ims_speech"], rec[:cut])
        res["dtmf_digits"] = dtmf_digits(rec[cut:])
        res["dtmf_heard"] = "".join(d["digit"] for d in res["dtmf_digits"])
        res["dtmf_in_speech"] = "".join(d["digit"] for d in dtmf_digits(rec[:cut]))
        checks["dtmf_heard"] = res["dtmf_heard"] == self.a.dtmf
        checks["dtmf_none_in_speech"] = res["dtmf_in_speech"] == ""

    async def ice_restart(self, res: dict, rest: float) -> None:
        """Re-offer with new ICE credentials halfway; audio must keep flowing after it."""
        offer = await self.client.restart_ice()
        res["checks"]["ice_restart_supported"] = offer is not None
        if offer is None:
            res["ice_restart"] = "unsupported by this client"
            await asyncio.sleep(rest)
            return
        old_client, old_relay = sdp_ufrag(self.web_sdp), sdp_ufrag(self.to_web)
        await self.webrtc_offers(offer, "ice-restart")
        # RFC 8445 9: both sides change ufrag/pwd on a restart (rtpengine does)
        res["checks"]["ice_restart_new_client_ufrag"] = sdp_ufrag(offer) != old_client
        res["checks"]["ice_restart_new_relay_ufrag"] = sdp_ufrag(self.to_web) != old_relay
        # count only after the restart has had 1 s to settle
        await asyncio.sleep(1.0)
        ims0, cl0, t0 = self.ims.stats["received"], (await self.client.stats())["packetsReceived"], time.monotonic()
        await asyncio.sleep(max(rest - 1.0, 1.0))
        span = time.monotonic() - t0
        ims_rx, cl_rx = self.ims.stats["received"] - ims0, (await self.client.stats())["packetsReceived"] - cl0
        res["ice_restart"] = {"window_s": round(span, 2), "ims_received": ims_rx, "client_received": cl_rx}
        res["checks"]["audio_after_ice_restart"] = min(ims_rx, cl_rx) >= 0.8 * span * 50

    def check_generated_rtcp(self, res: dict) -> None:
        """With generate-RTCP the relay reports to each side itself: the client's stack
        shows remote-inbound-rtp stats (loss, RTT) from the relay's report blocks, and
        the IMS side's RTCP port gets compound SR/RR + SDES that aiortc's parser reads,
        with a block about the IMS stream."""
        from aiortc.rtp import RtcpPacket, RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket
        checks, cs = res["checks"], res["client_stats"]
        ri = cs.get("remoteInbound")
        checks["client_remote_inbound_from_relay"] = bool(ri) and 0 <= ri["packetsLost"] <= 5
        checks["client_rtt_from_relay"] = bool(ri) and ri["roundTripTime"] is not None \
            and 0 <= ri["roundTripTime"] < 0.5
        parsed, blocks, errors = [], [], []
        for raw in self.ims.rtcp:
            try:
                pkts = RtcpPacket.parse(raw)
            except ValueError as e:
                errors.append(f"{e}: {raw.hex()}")
                continue
            parsed.append([type(p).__name__ for p in pkts])
            if not (pkts and isinstance(pkts[0], (RtcpSrPacket, RtcpRrPacket))
                    and any(isinstance(p, RtcpSdesPacket) for p in pkts)):
                errors.append(f"not SR/RR + SDES: {parsed[-1]}")
            blocks += [(r.ssrc, r.packets_lost, r.highest_sequence) for p in pkts[:1] for r in p.reports]
        res["ims_rtcp"] = {"packets": len(self.ims.rtcp), "parsed": parsed[:4], "errors": errors[:4],
                           "blocks": blocks[-2:]}
        checks["ims_rtcp_from_relay_parses"] = bool(parsed) and not errors
        checks["ims_rtcp_reports_ims_stream"] = any(b[0] == self.ims._ssrc and 0 <= b[1] <= 5 for b in blocks)
        # what the relay computed from the client's RR about the relay's SR
        gen = {}
        for media in res["query"].get("tags", {}).get(self.web_tag, {}).get("medias", []):
            for st in media.get("streams", []):
                gen = st.get("generated RTCP") or gen
        res["relay_rtcp_web"] = gen
        checks["relay_rtt_from_client_rr"] = "RTT us" in gen

    def score(self, res: dict, f: dict) -> None:
        checks, cs, ims = res["checks"], res["client_stats"], res["ims_stats"]
        if self.a.dtmf:
            self.check_dtmf(res, f)
        for key, ref, deg in (("pesq_ims", "speech_webrtc", "rec_ims_speech" if self.a.dtmf else "rec_ims"),
                              ("pesq_webrtc", "speech_ims", "rec_webrtc")):
            if os.path.exists(f[deg]) and os.path.getsize(f[deg]) > 44:
                try:
                    res[key + "_detail"] = pesq_nb_detail(f[ref], f[deg])
                    res[key] = res[key + "_detail"]["pesq"]
                except Exception as e:  # e.g. silent recording: no utterances
                    res[key + "_error"] = repr(e)
        min_ims = MIN_PESQ
        if self.a.codec == "AMR-WB":
            # the same speech through AMR-WB 12.65 alone: the bar for the transcoded path
            from amrwb_peer import through_amrwb_alone
            alone = through_amrwb_alone(f["speech_webrtc"], f["speech_webrtc"][:-4] + "_amrwb_alone.wav")
            res["pesq_amrwb_alone"] = pesq_nb_detail(f["speech_webrtc"], alone)["pesq"]
            min_ims = res["pesq_amrwb_alone"] - MAX_BELOW_AMRWB_ALONE
        checks["pesq_ims"] = res["pesq_ims"] is not None and res["pesq_ims"] >= min_ims
        # Chromium's own recording goes through WebAudio in a headless renderer: under CPU
        # load it glitches while the received stream itself is clean (its getStats
        # concealment check below is what judges the network side), so it is reported
        # but only required for aiortc, whose recorder sees the decoded frames directly
        web_pesq_counts = self.a.client != "chromium" or self.a.require_browser_pesq
        if web_pesq_counts and (res["pesq_webrtc"] is not None or "pesq_webrtc_error" in res):
            checks["pesq_webrtc"] = res["pesq_webrtc"] is not None and res["pesq_webrtc"] >= min_ims
        if cs:
            checks["client_packets_received"] = cs["packetsReceived"] >= 0.8 * ims["sent"] > 0
            if cs.get("packetsSent") is not None:
                checks["ims_packets_received"] = ims["received"] >= 0.8 * cs["packetsSent"] > 0
            if cs.get("concealedSamples") is not None and cs.get("totalSamplesReceived"):
                checks["concealed_below_2pct"] = cs["concealedSamples"] < 0.02 * cs["totalSamplesReceived"]
        if self.ims.srtp:
            checks["ims_srtp_auth_ok"] = ims["srtp_auth_failures"] == 0
        if self.a.generate_rtcp:
            self.check_generated_rtcp(res)
        if hasattr(self, "to_web"):
            checks["sdp_to_webrtc_has_ice_dtls"] = all(x in self.to_web for x in WEBRTC_ATTRS)
            checks["sdp_to_webrtc_proto"] = sdp_proto(self.to_web) == "UDP/TLS/RTP/SAVPF"
            if self.a.ice_webrtc == "force-relay":
                checks["sdp_to_webrtc_relay_candidate"] = " typ relay raddr " in self.to_web \
                    and " typ host" not in self.to_web
            checks["sdp_to_ims_has_no_ice_dtls"] = not any(
                x in self.to_ims for x in WEBRTC_ATTRS + ("a=ice-pwd:",))
            checks["sdp_to_ims_proto"] = sdp_proto(self.to_ims) == self.ims_proto
            checks["sdp_to_ims_crypto"] = ("a=crypto:" in self.to_ims) == (self.a.ims == "sdes")
        if self.a.relay_only:
            # the browser's side of the selected pair is its TURN allocation, and its offer
            # or answer carried relay candidates only
            pair = (res.get("client_stats") or {}).get("selectedPair") or {}
            checks["client_pair_is_relayed"] = pair.get("localType") == "relay"
            cands = [l for l in (getattr(self, "web_sdp", None) or "").splitlines() if l.startswith("a=candidate:")]
            checks["client_candidates_relay_only"] = bool(cands) and all(" typ relay " in l for l in cands)
        if hasattr(self, "to_web"):
            from_query, from_sdp = self.relay_dtls_role(res["query"])
            res["dtls_role_relay"] = from_query or from_sdp
            if from_query and from_sdp:
                checks["dtls_role_query_matches_sdp"] = from_query == from_sdp
            # only meaningful where the relay picked its role itself; an
            # a=setup:actpass offer leaves the choice to the client
            if self.a.dtls != "default" and sdp_setup(self.to_web) != "actpass":
                checks["dtls_role_as_requested"] = res["dtls_role_relay"] == self.a.dtls
        res["pass"] = bool(checks) and all(checks.values())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--client", choices=("aiortc", "chromium"), default="aiortc")
    p.add_argument("--ng", default="127.0.0.1:2291", help="relay ng address HOST:PORT")
    p.add_argument("--offerer", choices=("webrtc", "ims"), default="webrtc")
    p.add_argument("--dtls", choices=("default", "passive", "active"), default="default",
                   help="DTLS flag for the relay's WebRTC side (default: send none)")
    p.add_argument("--ims", choices=("rtp", "sdes"), default="rtp")
    p.add_argument("--codec", choices=("PCMU", "PCMA", "AMR-WB"), default="PCMU",
                   help="the IMS side's codec; AMR-WB makes the relay transcode (webrtc offerer)")
    p.add_argument("--ice-restart", action="store_true", help="ICE restart re-offer halfway")
    p.add_argument("--generate-rtcp", action="store_true",
                   help="ask the relay to terminate RTCP and send its own SR/RR (generate-RTCP)")
    p.add_argument("--seconds", type=float, default=10.0, help="media duration after DTLS is up")
    p.add_argument("--ice-webrtc", choices=("force", "force-relay"), default="force",
                   help="the ICE flag towards the WebRTC side (force-relay: the relay's candidate is typ relay)")
    p.add_argument("--turn", action="append", default=[],
                   help="Chromium: a TURN server URL for iceServers (repeatable), e.g. turns:127.0.0.1:5349?transport=tcp")
    p.add_argument("--turn-user", default="demo")
    p.add_argument("--turn-password", default="demo-password")
    p.add_argument("--relay-only", action="store_true", help='Chromium: iceTransportPolicy "relay"')
    p.add_argument("--chromium-arg", action="append", default=[],
                   help="an extra Chromium command-line switch (repeatable)")
    p.add_argument("--dtmf", metavar="DIGITS",
                   help="Chromium, AMR-WB: after the speech the browser sends these DTMF digits "
                        "(insertDTMF); the AMR-WB peer negotiates no telephone-event, so the relay "
                        "must play them as tones, and exactly these must be heard in its audio")
    p.add_argument("--ims-port", type=int, default=0, help="IMS peer RTP port (0: pick a free one)")
    p.add_argument("--workdir", help="keep WAVs here (default: a new temp dir)")
    p.add_argument("--json", help="write the result JSON here")
    p.add_argument("--require-browser-pesq", action="store_true",
                   help="also require NB-PESQ >= 3.5 on Chromium's own recording (an idle machine)")
    args = p.parse_args()
    if args.dtmf and (args.client != "chromium" or args.codec != "AMR-WB"):
        p.error("--dtmf needs --client chromium --codec AMR-WB")

    res = asyncio.run(Call(args).run())
    if res["pass"] and not args.workdir:
        shutil.rmtree(res["workdir"])  # a failed run keeps its WAVs for a look
        res["workdir"] = None
    summary = {k: res.get(k) for k in (
        "error", "pesq_ims", "pesq_webrtc", "pesq_amrwb_alone", "pesq_ims_detail", "pesq_webrtc_detail", "dtls_role_relay",
        "ice_restart", "dtmf_heard", "dtmf_digits", "dtmf_in_speech", "dtmf_tonechanges",
        "client_stats", "ims_stats", "ims_rtcp", "relay_rtcp_web", "checks", "pass", "elapsed_s")}
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    if not res["pass"]:
        print(f"WAVs kept in {res['workdir']}", file=sys.stderr)
        print("FAILED checks: " + ", ".join(k for k, v in res["checks"].items() if not v), file=sys.stderr)
        for name, sdp in res["sdp"].items():
            print(f"----- {name}\n{sdp.strip()}", file=sys.stderr)
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
