"""PESQ (ITU-T P.862, `pesq` package) of degraded WAV files against a reference.

usage: pesq_score.py nb|wb REF.wav DEG.wav [DEG2.wav ...]
Prints one score per degraded file, one per line, in order. Files must be mono s16 at
8 kHz (nb) or 16 kHz (wb); the degraded file is cut or zero-padded to the reference's
length (codec delay is left in: PESQ aligns it)."""
import sys
import wave

import numpy as np
from pesq import pesq


def read(path):
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def main():
    mode, ref_path, degs = sys.argv[1], sys.argv[2], sys.argv[3:]
    rate, ref = read(ref_path)
    assert rate == (8000 if mode == "nb" else 16000), (mode, rate)
    for d in degs:
        r2, deg = read(d)
        assert r2 == rate, (d, r2)
        deg = np.pad(deg, (0, max(0, len(ref) - len(deg))))[: len(ref)]
        print(f"{pesq(rate, ref, deg, mode):.3f}")


if __name__ == "__main__":
    main()
