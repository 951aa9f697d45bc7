//! DTMF in audio, sans-IO: the digit ↔ RFC 4733 event-code map, a tone generator (ITU-T
//! Q.23 frequency pairs) for events a party cannot take as telephone-event and for
//! `play DTMF`, and a Goertzel detector for digits a party sends in-band that the other
//! side should get as events.
//!
//! Levels are in dBm0 as RFC 4733's `volume` field gives them (the power of the tone pair,
//! each frequency 3 dB below it); 0 dBm0 is a sine 3.14 dB below 16-bit full scale (the
//! G.711 digital milliwatt).
//!
//! The detector works on whole 20 ms frames at the decoder's rate (8, 16 or 48 kHz), as
//! Q.24 receivers are specified: a digit is reported after two consecutive frames agree
//! (40 ms, Q.24's shortest valid tone) and ended after two frames without it, so one bad
//! frame (a concealed loss) neither splits nor ends a digit. A frame counts as a digit when
//! one low-group and one high-group frequency each stand 8 dB above the rest of their
//! group, their levels are within Q.24's twist (−8 to +4 dB), the pair is above −30 dBm0,
//! and the pair carries at least 70 % of the frame's power: speech, which spreads its power
//! over harmonics, fails the last test.

use std::f32::consts::PI;

const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// RFC 4733 event codes by keypad position (row: low frequency, column: high).
const KEYPAD: [[u8; 4]; 4] = [[1, 2, 3, 12], [4, 5, 6, 13], [7, 8, 9, 14], [10, 0, 11, 15]];
/// Peak amplitude of a 0 dBm0 sine in 16-bit PCM.
const DBM0_PEAK: f32 = 22_767.0;

/// RFC 4733 event code of a keypad character (`0-9`, `*`, `#`, `A-D`).
pub fn event_of(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        d @ '0'..='9' => d as u8 - b'0',
        '*' => 10,
        '#' => 11,
        l @ 'A'..='D' => 12 + (l as u8 - b'A'),
        _ => return None,
    })
}

/// The keypad character of an event code 0–15.
pub fn char_of(event: u8) -> Option<char> {
    Some(match event {
        0..=9 => (b'0' + event) as char,
        10 => '*',
        11 => '#',
        12..=15 => (b'A' + event - 12) as char,
        _ => return None,
    })
}

fn freqs(event: u8) -> Option<(f32, f32)> {
    for (r, row) in KEYPAD.iter().enumerate() {
        for (c, &e) in row.iter().enumerate() {
            if e == event {
                return Some((LOW[r], HIGH[c]));
            }
        }
    }
    None
}

/// A DTMF tone pair at one sample rate, phase-continuous across frames.
#[derive(Clone, Debug)]
pub struct ToneGen {
    step: (f32, f32),
    phase: (f32, f32),
    amp: f32,
}

impl ToneGen {
    /// The tone of event `event` (0–15) at `rate` Hz and `dbm0` (the RFC 4733 volume, 0–63:
    /// the level is its negative).
    pub fn new(event: u8, rate: u32, dbm0: u8) -> Option<ToneGen> {
        let (lo, hi) = freqs(event)?;
        let r = rate.max(1) as f32;
        let each = -(dbm0.min(63) as f32) - 3.0;
        Some(ToneGen {
            step: (2.0 * PI * lo / r, 2.0 * PI * hi / r),
            phase: (0.0, 0.0),
            amp: DBM0_PEAK * 10f32.powf(each / 20.0),
        })
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            let v = self.amp * (self.phase.0.sin() + self.phase.1.sin());
            *s = v.clamp(-32768.0, 32767.0) as i16;
            self.phase.0 += self.step.0;
            self.phase.1 += self.step.1;
        }
        // keep the phases small so f32 keeps its precision over a long tone
        self.phase.0 %= 2.0 * PI;
        self.phase.1 %= 2.0 * PI;
    }
}

/// What one frame told the detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detected {
    /// A digit began (its event code and level as an RFC 4733 volume); it has lasted two
    /// frames.
    Start { event: u8, volume: u8 },
    /// The digit reported by the last `Start` ended.
    End { event: u8 },
}

/// In-band DTMF detection over 20 ms frames.
#[derive(Clone, Debug)]
pub struct Detector {
    /// Goertzel coefficients 2·cos(2πf/rate), low group then high group.
    coef: [f32; 8],
    /// The candidate of the previous frame.
    last: Option<u8>,
    /// The digit reported and not yet ended, and frames since it was last seen.
    current: Option<u8>,
    missed: u8,
}

/// A frame's verdict: the digit it holds and its level (RFC 4733 volume).
fn verdict(coef: &[f32; 8], pcm: &[i16]) -> Option<(u8, u8)> {
    let n = pcm.len();
    if n == 0 {
        return None;
    }
    // the eight recurrences side by side (one pass, independent chains: 5x faster than
    // one filter after another)
    let (mut s1, mut s2) = ([0f32; 8], [0f32; 8]);
    for &x in pcm {
        let x = x as f32;
        for k in 0..8 {
            let s = x + coef[k] * s1[k] - s2[k];
            s2[k] = s1[k];
            s1[k] = s;
        }
    }
    let mut power = [0f32; 8];
    for k in 0..8 {
        // |X|² · 2 / N²: the mean power of a sine at this frequency
        power[k] = (s1[k] * s1[k] + s2[k] * s2[k] - coef[k] * s1[k] * s2[k]) * 2.0 / (n * n) as f32;
    }
    let total = pcm.iter().map(|&x| x as f32 * x as f32).sum::<f32>() / n as f32;
    let best = |g: &[f32]| {
        let (i, &p) = g.iter().enumerate().fold((0, &0f32), |a, b| if b.1 > a.1 { b } else { a });
        let rest = g.iter().enumerate().filter(|&(j, _)| j != i).fold(0f32, |m, (_, &q)| m.max(q));
        // 8 dB above the next of the group
        (p > rest * 6.3).then_some((i, p))
    };
    let (r, pl) = best(&power[..4])?;
    let (c, ph) = best(&power[4..])?;
    // −30 dBm0 for the pair: a 0 dBm0 sine's mean power is DBM0_PEAK² / 2
    let ref_power = DBM0_PEAK * DBM0_PEAK / 2.0;
    let pair = pl + ph;
    if pair < ref_power * 1e-3 || pair < 0.7 * total {
        return None;
    }
    // twist: high group from 8 dB below to 4 dB above the low group
    if ph < pl * 0.158 || ph > pl * 2.51 {
        return None;
    }
    let volume = (-10.0 * (pair / ref_power).log10()).round().clamp(0.0, 63.0) as u8;
    Some((KEYPAD[r][c], volume))
}

impl Detector {
    pub fn new(rate: u32) -> Detector {
        let mut coef = [0f32; 8];
        for (k, f) in LOW.iter().chain(HIGH.iter()).enumerate() {
            coef[k] = 2.0 * (2.0 * PI * f / rate.max(1) as f32).cos();
        }
        Detector { coef, last: None, current: None, missed: 0 }
    }

    /// One frame of audio (20 ms at the rate given to [`Detector::new`]).
    pub fn frame(&mut self, pcm: &[i16]) -> Option<Detected> {
        let v = verdict(&self.coef, pcm);
        let digit = v.map(|(d, _)| d);
        let prev = std::mem::replace(&mut self.last, digit);
        if let Some(cur) = self.current {
            if digit == Some(cur) {
                self.missed = 0;
                return None;
            }
            self.missed += 1;
            if self.missed < 2 && digit.is_none() {
                return None;
            }
            self.current = None;
            self.missed = 0;
            // another digit right after this one is reported once it has two frames
            return Some(Detected::End { event: cur });
        }
        match (v, prev) {
            (Some((d, volume)), Some(p)) if p == d => {
                self.current = Some(d);
                self.missed = 0;
                Some(Detected::Start { event: d, volume })
            }
            _ => None,
        }
    }

    /// The digit reported and not yet ended.
    pub fn current(&self) -> Option<u8> {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::g711::{G711Decoder, G711Encoder, Law};
    use crate::codec::{Decoder, Encoder, Input};

    fn frames_of(rate: u32, tone: &[(Option<u8>, usize)], noise: f32) -> Vec<Vec<i16>> {
        // a seeded LCG for noise, so the tests are repeatable
        let mut seed = 12345u32;
        let mut all = vec![];
        for &(ev, ms) in tone {
            let n = rate as usize * ms / 1000;
            let mut v = vec![0i16; n];
            if let Some(e) = ev {
                ToneGen::new(e, rate, 10).unwrap().fill(&mut v);
            }
            for s in &mut v {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let r = ((seed >> 16) as f32 / 65536.0 - 0.5) * noise;
                *s = (*s as f32 + r).clamp(-32768.0, 32767.0) as i16;
            }
            all.extend(v);
        }
        let f = rate as usize / 50;
        all.chunks(f).filter(|c| c.len() == f).map(<[i16]>::to_vec).collect()
    }

    fn run(d: &mut Detector, frames: &[Vec<i16>]) -> Vec<(usize, Detected)> {
        frames.iter().enumerate().filter_map(|(i, f)| d.frame(f).map(|x| (i, x))).collect()
    }

    #[test]
    fn keypad_map_round_trips() {
        for e in 0..16 {
            assert_eq!(event_of(char_of(e).unwrap()), Some(e));
        }
        assert_eq!(event_of('x'), None);
        assert_eq!(char_of(16), None);
        assert_eq!(freqs(5), Some((770.0, 1336.0)));
        assert_eq!(freqs(11), Some((941.0, 1477.0)));
    }

    #[test]
    fn every_digit_at_every_rate_is_detected_once_with_its_level() {
        for rate in [8000, 16000, 48000] {
            for e in 0..16u8 {
                // tone not aligned with frames, with noise 30 dB down
                let f = frames_of(rate, &[(None, 33), (Some(e), 100), (None, 80)], 200.0);
                let got = run(&mut Detector::new(rate), &f);
                assert_eq!(got.len(), 2, "rate {rate} event {e}: {got:?}");
                assert!(matches!(got[0].1, Detected::Start { event, volume } if event == e && (9..=11).contains(&volume)), "{got:?}");
                assert_eq!(got[1].1, Detected::End { event: e });
                // started 2 frames into the tone, ended 2 frames after it
                assert!((2..=4).contains(&got[0].0) && (7..=10).contains(&got[1].0), "{got:?}");
            }
        }
    }

    #[test]
    fn digits_survive_g711_and_a_lost_frame() {
        let f = frames_of(8000, &[(None, 40), (Some(11), 200), (None, 60), (Some(11), 200), (None, 60)], 0.0);
        let (mut enc, mut dec) = (G711Encoder::new(Law::A), G711Decoder::new(Law::A));
        let mut d = Detector::new(8000);
        let mut got = vec![];
        for (i, fr) in f.iter().enumerate() {
            let mut bytes = [0u8; 160];
            let n = enc.encode(fr, &mut bytes).unwrap();
            let mut pcm = [0i16; 160];
            // frame 6, inside the first tone, is lost and concealed as silence
            if i != 6 {
                dec.decode(Input::Frame(&bytes[..n]), &mut pcm).unwrap();
            }
            got.extend(d.frame(&pcm));
        }
        assert_eq!(
            got,
            vec![
                Detected::Start { event: 11, volume: 10 },
                Detected::End { event: 11 },
                Detected::Start { event: 11, volume: 10 },
                Detected::End { event: 11 }
            ]
        );
    }

    #[test]
    fn speech_like_sound_noise_and_short_tones_are_not_digits() {
        for rate in [8000u32, 16000] {
            // a voiced sound: 110 Hz and 30 harmonics falling 3 dB each, moving pitch
            let n = rate as usize * 2;
            let mut v = vec![0i16; n];
            let mut ph = 0f32;
            for (i, s) in v.iter_mut().enumerate() {
                let f0 = 110.0 + 30.0 * (i as f32 / rate as f32 * 3.0).sin();
                ph += 2.0 * PI * f0 / rate as f32;
                let x: f32 = (1..=30).map(|h| 10f32.powf(-3.0 * h as f32 / 20.0) * (ph * h as f32).sin()).sum();
                *s = (x * 6000.0) as i16;
            }
            let f = rate as usize / 50;
            let frames: Vec<Vec<i16>> = v.chunks(f).map(<[i16]>::to_vec).collect();
            assert!(run(&mut Detector::new(rate), &frames).is_empty());
            // loud white noise
            let frames = frames_of(rate, &[(None, 2000)], 20000.0);
            assert!(run(&mut Detector::new(rate), &frames).is_empty());
            // a single pure frequency of the keypad (a dial-tone-like sound)
            let mut v = vec![0i16; rate as usize];
            for (i, s) in v.iter_mut().enumerate() {
                *s = (8000.0 * (2.0 * PI * 941.0 * i as f32 / rate as f32).sin()) as i16;
            }
            let frames: Vec<Vec<i16>> = v.chunks(f).map(<[i16]>::to_vec).collect();
            assert!(run(&mut Detector::new(rate), &frames).is_empty());
            // 20 ms of tone, frame-aligned: one frame only
            let frames = frames_of(rate, &[(None, 40), (Some(3), 20), (None, 100)], 0.0);
            assert!(run(&mut Detector::new(rate), &frames).is_empty());
        }
    }

    #[test]
    fn tone_levels_follow_the_volume_and_never_clip() {
        for vol in [0u8, 10, 30] {
            let mut g = ToneGen::new(1, 8000, vol).unwrap();
            let mut v = vec![0i16; 8000];
            g.fill(&mut v);
            let p = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>() / v.len() as f64;
            let db = 10.0 * (p / (DBM0_PEAK as f64 * DBM0_PEAK as f64 / 2.0)).log10();
            assert!((db + vol as f64).abs() < 0.3, "vol {vol}: {db:.2} dBm0");
            assert!(v.iter().all(|&x| x > -32768 && x < 32767));
        }
        assert!(ToneGen::new(16, 8000, 10).is_none());
    }
}
