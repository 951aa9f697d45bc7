#!/usr/bin/env python3
"""Write a G.711 A-law (PCMA) WAV tone for sipp's <exec rtp_stream=.../> (stdlib only).

Usage: make_tone.py OUT.wav [--seconds 3] [--freq 440]
With payload type 8, sipp 3.6.1 streams the data chunk as 160-byte / 20 ms
RTP packets (random SSRC) from its -mp media socket.
"""
import argparse
import math
import struct


def alaw_encode(sample):
    """16-bit signed linear PCM -> A-law byte (ITU-T G.711)."""
    sign = 0x00 if sample < 0 else 0x80
    if sample < 0:
        sample = -sample - 1
    sample = min(sample, 32767) >> 3          # 13-bit magnitude
    if sample < 32:
        seg, mant = 0, sample >> 1
    else:
        seg = sample.bit_length() - 5          # 1..7
        mant = (sample >> seg) & 0x0F
    return ((seg << 4) | mant | sign) ^ 0x55


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--freq", type=float, default=440.0)
    args = ap.parse_args()
    rate = 8000
    n = int(rate * args.seconds)
    data = bytes(alaw_encode(int(12000 * math.sin(2 * math.pi * args.freq * i / rate)))
                 for i in range(n))
    # plain 44-byte header: WAVE_FORMAT_ALAW (6), mono, 8 kHz, 8 bits per sample
    fmt = struct.pack("<HHIIHH", 6, 1, rate, rate, 1, 8)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    with open(args.out, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


if __name__ == "__main__":
    main()
