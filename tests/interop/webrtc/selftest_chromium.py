#!/usr/bin/env python3
"""Self-test for ChromiumClient without a relay: two headless Chromiums call each
other directly over loopback (PCMU), do an ICE restart, record, and score B's
recording against A's speech with NB-PESQ.

Run: target/pyenv/bin/python tests/interop/webrtc/selftest_chromium.py [--keep DIR] [--secs 6]
Exit status 0 = all checks passed.
"""
import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chromium_client import LOOPBACK, ChromiumClient, make_speech_wav, sdp_ice_ufrag  # noqa: E402

TEXT = ("The quick brown fox jumps over the lazy dog. "
        "Please call me back after five o'clock.")
FAILS: list[str] = []


def check(cond: bool, what: str) -> None:
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        FAILS.append(what)


def check_sdp(name: str, sdp: str) -> None:
    cands = [ln for ln in sdp.splitlines() if ln.startswith("a=candidate:")]
    check(bool(cands) and all(ln.split()[4] in LOOPBACK and ln.split()[2] == "udp" for ln in cands),
          f"{name}: {len(cands)} candidates, all loopback UDP")
    mline = next(ln for ln in sdp.splitlines() if ln.startswith("m=audio"))
    check(mline.split()[3:5] == ["0", "8"], f"{name}: {mline!r} offers PCMU, PCMA first")


def read_8k(path: str) -> np.ndarray:
    """Any WAV -> 8 kHz mono float64 (resampled by ffmpeg)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "8k.wav")
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", path, "-ar", "8000", "-ac", "1",
                        "-sample_fmt", "s16", out], check=True)
        with wave.open(out, "rb") as w:
            return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)


def xcorr(ref: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """c[k] = sum(ref * sig[k:k+len(ref)]) for k = 0 .. len(sig)-len(ref)."""
    n = 1 << int(np.ceil(np.log2(len(ref) + len(sig))))
    c = np.fft.irfft(np.fft.rfft(sig, n) * np.conj(np.fft.rfft(ref, n)), n)
    return c[: len(sig) - len(ref) + 1]


def pesq_loops(ref: np.ndarray, rec: np.ndarray) -> list[tuple[float, float]]:
    """The fake mic loops the speech file, so the recording holds back-to-back
    copies of it. Align each complete copy by cross-correlation and score it:
    returns [(start second, NB-PESQ)]."""
    from pesq import pesq
    if len(rec) < len(ref):
        return []
    c = xcorr(ref, rec)
    # phase of the loop: where the first 2 s of the speech match best (a full-length
    # window would also "match" a rotated copy when no complete loop is recorded)
    first = int(np.argmax(xcorr(ref[:16000], rec))) % len(ref)
    out = []
    for k in range(first, len(c), len(ref)):
        lo, hi = max(0, k - 400), min(len(c), k + 400)   # refine within +-50 ms
        lag = lo + int(np.argmax(c[lo:hi]))
        seg = rec[lag: lag + len(ref)]
        out.append((lag / 8000, float(pesq(8000, ref.astype(np.float32), seg.astype(np.float32), "nb"))))
    return out


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="directory for speech/recordings (default: temp, removed)")
    ap.add_argument("--secs", type=float, default=8.0, help="seconds of media before/after the ICE restart")
    ap.add_argument("--ipv6", action="store_true", help="offer ::1 candidates too (a ::1 pair is then expected)")
    ap.add_argument("--interfaces", action="store_true",
                    help="wildcard_sockets=False: real per-interface sockets (shows the eth0-source problem)")
    args = ap.parse_args()
    t0 = time.monotonic()
    work = args.keep or tempfile.mkdtemp(prefix="selftest-chromium-")
    os.makedirs(work, exist_ok=True)
    speech = make_speech_wav(TEXT, os.path.join(work, "speech48k.wav"))
    rec_a, rec_b = os.path.join(work, "rec_a.wav"), os.path.join(work, "rec_b.wav")

    opts = {"ipv6": args.ipv6, "wildcard_sockets": not args.interfaces}
    lo = ("[::1]:", "127.0.0.1:") if args.ipv6 else ("127.0.0.1:",)
    a, b = ChromiumClient(**opts), ChromiumClient(**opts)
    try:
        await asyncio.gather(a.start(speech, rec_a), b.start(speech, rec_b))
        print(f"started 2 browsers in {time.monotonic() - t0:.1f}s; mic {a.info['settings']}, "
              f"AudioContext {a.info['rate']} Hz")

        offer = await a.create_offer()
        print("---- A offer (filtered) ----\n" + offer.strip() + "\n----")
        check_sdp("offer", offer)
        answer = await b.accept_offer(offer)
        print("---- B answer (filtered) ----\n" + answer.strip() + "\n----")
        check_sdp("answer", answer)
        await a.set_answer(answer)
        t_conn = time.monotonic()

        await asyncio.sleep(args.secs)
        sa, sb = await a.stats(), await b.stats()
        for n, s in (("A", sa), ("B", sb)):
            print(f"{n} stats: {s}")
            check(s["packetsReceived"] > 200 and s["packetsSent"] > 200, f"{n}: >200 packets each way")
            check(s["iceState"] == "connected" and s["dtlsState"] == "connected", f"{n}: ICE+DTLS connected")
            pair = s["selectedPair"] or {}
            check(pair.get("local", "").startswith(lo) and pair.get("remote", "").startswith(lo),
                  f"{n}: selected pair {pair.get('local')} -> {pair.get('remote')} on loopback")
            check(s.get("recvCodec") == "audio/PCMU" and s.get("sendCodec") == "audio/PCMU", f"{n}: PCMU both ways")

        # ICE restart initiated by A: new ufrag on both sides, audio keeps flowing
        t_r = time.monotonic()
        offer2 = await a.restart_ice()
        check_sdp("restart offer", offer2)
        check(sdp_ice_ufrag(offer2) != sdp_ice_ufrag(offer), f"A ufrag {sdp_ice_ufrag(offer)} -> {sdp_ice_ufrag(offer2)}")
        answer2 = await b.accept_offer(offer2)
        check(sdp_ice_ufrag(answer2) != sdp_ice_ufrag(answer),
              f"B ufrag {sdp_ice_ufrag(answer)} -> {sdp_ice_ufrag(answer2)}")
        await a.set_answer(answer2)
        print(f"ICE restart signalled in {time.monotonic() - t_r:.2f}s")
        await asyncio.sleep(args.secs)
        sa2, sb2 = await a.stats(), await b.stats()
        for n, s1, s2 in (("A", sa, sa2), ("B", sb, sb2)):
            d = s2["packetsReceived"] - s1["packetsReceived"]
            print(f"{n} stats after restart: {s2}")
            check(d > 40 * args.secs, f"{n}: {d} packets received after restart")
            check(s2["iceState"] == "connected", f"{n}: ICE {s2['iceState']} after restart")
            pair = s2["selectedPair"] or {}
            check(pair.get("local", "").startswith(lo) and pair.get("remote", "").startswith(lo),
                  f"{n}: selected pair {pair.get('local')} -> {pair.get('remote')} on loopback after restart")
        print(f"call lasted {time.monotonic() - t_conn:.1f}s")
        print("A page log:\n  " + "\n  ".join(await a.page_log()))
    finally:
        await asyncio.gather(a.close(), b.close(), return_exceptions=True)

    # recordings: RMS and NB-PESQ of B's recording against the speech A sent
    ref = read_8k(speech)
    for n, path in (("A", rec_a), ("B", rec_b)):
        with wave.open(path, "rb") as w:
            rate, frames = w.getframerate(), w.getnframes()
            pcm = np.frombuffer(w.readframes(frames), "<i2").astype(np.float64)
        rms = float(np.sqrt(np.mean(pcm ** 2))) if len(pcm) else 0.0
        print(f"{n} recording: {frames / rate:.1f}s at {rate} Hz, RMS {rms:.0f} "
              f"({20 * np.log10(max(rms, 1) / 32768):.1f} dBFS)")
        check(rms > 100, f"{n}: recording has audio")
    for n, path in (("B", rec_b), ("A", rec_a)):   # both sent the same speech
        scores = pesq_loops(ref, read_8k(path))
        for start, score in scores:
            print(f"{n} NB-PESQ of speech loop at {start:5.2f}s: {score:.2f}")
        if n == "B":
            check(bool(scores) and max(s for _, s in scores) > 3.5, "B: NB-PESQ > 3.5 for some complete loop")

    if not args.keep:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    print(f"total {time.monotonic() - t0:.1f}s: " + ("PASS" if not FAILS else f"FAIL ({len(FAILS)}): {FAILS}"))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
