"""Speech generation and NB-PESQ scoring for the WebRTC<->IMS call harness."""
import os
import subprocess
import tempfile
import wave

import numpy as np

RATE = 8000

TEXTS = {  # ~7-8 s each at 165 words/min
    "webrtc": ("The quick brown fox jumps over the lazy dog. "
               "Please call me back after five. Seven ships sailed across the bay."),
    "ims": ("Good morning, this is the network side calling. "
            "A red balloon floated over the town square. Bring your umbrella."),
}


def make_speech(path: str, seconds: float = 8.0, voice: str = "webrtc", lead_s: float = 1.0) -> str:
    """Write `seconds` of espeak-ng speech as 8 kHz mono s16 WAV: `lead_s` of
    silence first (lets jitter buffers settle before the speech), then the
    text for `voice` ("webrtc" or "ims"), padded with silence or cut to length."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "espeak.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "165", "-w", raw, TEXTS[voice]],
                       check=True, capture_output=True)
        delay_ms = int(lead_s * 1000)
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", raw,
                        "-af", f"adelay={delay_ms}:all=1,apad=whole_dur={seconds}", "-t", str(seconds),
                        "-ar", str(RATE), "-ac", "1", "-sample_fmt", "s16", path],
                       check=True)
    return path


def to_8k(src: str, dst: str) -> str:
    """Resample any WAV (e.g. 48 kHz or 16 kHz, mono or stereo) to 8 kHz mono s16."""
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", src,
                    "-ar", str(RATE), "-ac", "1", "-sample_fmt", "s16", dst], check=True)
    return dst


def read_wav(path: str) -> np.ndarray:
    """Read a WAV as 8 kHz mono int16, resampling through ffmpeg when needed."""
    with wave.open(path, "rb") as w:
        ok = w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        data = w.readframes(w.getnframes()) if ok else None
    if data is None:
        with tempfile.TemporaryDirectory() as tmp:
            return read_wav(to_8k(path, os.path.join(tmp, "8k.wav")))
    return np.frombuffer(data, dtype="<i2").copy()


def write_wav(path: str, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def align(ref: np.ndarray, deg: np.ndarray, window_s: float = 4.0) -> tuple[np.ndarray, int]:
    """Shift `deg` so it lines up with `ref`; returns (deg cut/padded to len(ref), lag).

    The lag comes from the FFT cross-correlation of the first `window_s`
    seconds of the reference with the whole recording; a positive lag means
    the speech starts `lag` samples into the recording."""
    r = ref[: int(window_s * RATE)].astype(np.float64)
    d = deg.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(r) + len(d))))
    xc = np.fft.irfft(np.fft.rfft(d, n) * np.conj(np.fft.rfft(r, n)), n)
    # indices 0..len(d)-1 are lags >= 0, the tail holds the negative lags
    lags = np.concatenate([np.arange(len(d)), np.arange(-(len(r) - 1), 0)])
    vals = np.concatenate([xc[: len(d)], xc[n - (len(r) - 1):]])
    lag = int(lags[np.argmax(vals)])
    out = deg[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, deg.dtype), deg])
    out = out[: len(ref)]
    return np.concatenate([out, np.zeros(len(ref) - len(out), deg.dtype)]), lag


def pesq_nb_detail(ref_wav: str, deg_wav: str) -> dict:
    """NB-PESQ (P.862) of a recording against its reference after alignment.

    Scoring starts at the recording's first non-zero sample: audio a client
    played before the media path was up (never received) is not held against
    the path; `skipped_s` says how much of the reference that left out.
    Raises pesq's errors (e.g. NoUtterancesError) or ValueError for silence."""
    from pesq import pesq

    ref = read_wav(ref_wav)
    deg, lag = align(ref, read_wav(deg_wav))
    nonzero = np.flatnonzero(deg)
    if not len(nonzero):
        raise ValueError(f"{deg_wav}: silent after alignment")
    start = int(nonzero[0])
    score = pesq(RATE, ref[start:].astype(np.float32), deg[start:].astype(np.float32), "nb")
    return {"pesq": round(float(score), 3), "lag_s": lag / RATE, "skipped_s": start / RATE}


def pesq_nb(ref_wav: str, deg_wav: str) -> float:
    return pesq_nb_detail(ref_wav, deg_wav)["pesq"]


DTMF_LOW, DTMF_HIGH = (697, 770, 852, 941), (1209, 1336, 1477, 1633)
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")  # [low][high]


def dtmf_frames(pcm: np.ndarray, floor_dbfs: float = -45.0) -> list[dict | None]:
    """Per 20 ms frame (8 kHz) the DTMF key it holds, or None: a DFT at the 8 DTMF
    frequencies; the key is the strongest low + the strongest high tone, each at least
    4x the power of every other tone of its group, the pair >= 60 % of the frame's
    power, the frame above `floor_dbfs` (RMS, so silence is no key)."""
    n = RATE // 50
    x = pcm[: len(pcm) // n * n].astype(np.float64).reshape(-1, n)
    basis = np.exp(-2j * np.pi * np.outer(np.arange(n) / RATE, DTMF_LOW + DTMF_HIGH))
    power = 2 * np.abs(x @ basis) ** 2 / n  # = the frame's sum of squares for a pure tone
    total = (x ** 2).sum(axis=1)
    floor = n * (32768 * 10 ** (floor_dbfs / 20)) ** 2
    out = []
    for p, tot in zip(power, total):
        lo, hi = p[:4], p[4:]
        i, j = int(np.argmax(lo)), int(np.argmax(hi))
        ok = (tot >= floor and lo[i] >= 4 * np.sort(lo)[-2] and hi[j] >= 4 * np.sort(hi)[-2]
              and lo[i] + hi[j] >= 0.6 * tot)
        out.append({"key": DTMF_KEYS[i][j], "dbfs": 10 * np.log10(tot / n / 32768 ** 2),
                    "twist_db": 10 * np.log10(hi[j] / lo[i])} if ok else None)
    return out


def dtmf_digits(pcm: np.ndarray, min_frames: int = 2) -> list[dict]:
    """The keys in 8 kHz audio: runs of >= `min_frames` frames with the same key
    (`dtmf_frames`), each with its frame count, start, mean level and twist."""
    runs, frames = [], dtmf_frames(pcm)
    for k, f in enumerate(frames):
        if f and runs and runs[-1]["key"] == f["key"] and runs[-1]["end"] == k:
            runs[-1]["end"] = k + 1
            runs[-1]["f"].append(f)
        elif f:
            runs.append({"key": f["key"], "start": k, "end": k + 1, "f": [f]})
    return [{"digit": r["key"], "frames": len(r["f"]), "at_s": r["start"] / 50,
             "dbfs": round(float(np.mean([f["dbfs"] for f in r["f"]])), 1),
             "twist_db": round(float(np.mean([f["twist_db"] for f in r["f"]])), 1)}
            for r in runs if len(r["f"]) >= min_frames]
