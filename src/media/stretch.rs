//! Shortening decoded audio by one frame without a cut, for the jitter buffer's shrinking
//! (`jitter::Out::Frame`'s `merge`): two consecutive frames `a` and `b` become one frame
//! that starts as `a` and ends as `b`, the switch made by a short cross-fade at the point
//! where the two look most alike (the highest normalised cross-correlation over the
//! fade's length, the waveform-similarity idea of WSOLA). Voiced speech then continues in
//! phase and a pause is joined where it is quiet; the decoders saw both frames, so their
//! state stays continuous.

/// `a` ← `a` and `b` (the same length) spliced into `a.len()` samples; `rate` gives the
/// fade length (5 ms). Returns the sample where `b` took over.
pub fn splice(a: &mut [i16], b: &[i16], rate: u32) -> usize {
    let n = a.len().min(b.len());
    let fade = (rate as usize / 200).clamp(1, n.max(1));
    if n <= fade {
        return 0;
    }
    // best splice point: where a[p..p+fade] and b[p..p+fade] correlate best
    let (mut best, mut best_score) = (0usize, f32::MIN);
    for p in (0..=n - fade).step_by(if rate > 16_000 { 2 } else { 1 }) {
        let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
        for k in p..p + fade {
            let (x, y) = (a[k] as f32, b[k] as f32);
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        // normalised correlation; a silent stretch counts as a good match
        let score = if aa + bb < 1.0 { 1.0 } else { ab / (aa * bb).sqrt().max(1.0) };
        if score > best_score {
            best_score = score;
            best = p;
        }
    }
    for k in 0..fade {
        let w = (k as f32 + 0.5) / fade as f32;
        let i = best + k;
        a[i] = (a[i] as f32 * (1.0 - w) + b[i] as f32 * w).round().clamp(-32768.0, 32767.0) as i16;
    }
    a[best + fade..n].copy_from_slice(&b[best + fade..n]);
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    fn voiced(rate: u32, f0: f32, start: usize, n: usize) -> Vec<i16> {
        (start..start + n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                (6000.0 * (2.0 * PI * f0 * t).sin() + 3000.0 * (2.0 * PI * 2.0 * f0 * t + 1.0).sin()) as i16
            })
            .collect()
    }

    /// The largest step between neighbouring samples, relative to the signal's own.
    fn roughest(x: &[i16]) -> i32 {
        x.windows(2).map(|w| (w[1] as i32 - w[0] as i32).abs()).max().unwrap()
    }

    #[test]
    fn a_voiced_sound_stays_in_phase_across_the_splice() {
        for (rate, f0) in [(8000u32, 130.0f32), (16000, 210.0), (48000, 97.0)] {
            let n = rate as usize / 50;
            let mut a = voiced(rate, f0, 0, n);
            let b = voiced(rate, f0, n, n);
            let smooth = roughest(&voiced(rate, f0, 0, 2 * n));
            splice(&mut a, &b, rate);
            // no step larger than the sound's own steepest (+10 %): no click
            assert!(roughest(&a) <= smooth * 11 / 10, "rate {rate}: {} vs {smooth}", roughest(&a));
        }
    }

    #[test]
    fn it_ends_as_b_and_handles_silence_and_odd_sizes() {
        let rate = 16000;
        let n = 320;
        let mut a = voiced(rate, 150.0, 0, n);
        let b = voiced(rate, 150.0, 5000, n);
        let p = splice(&mut a, &b, rate);
        assert!(p + 80 <= n);
        assert_eq!(&a[p + 80..], &b[p + 80..]);
        let mut z = vec![0i16; n];
        splice(&mut z, &vec![0i16; n], rate);
        assert!(z.iter().all(|&x| x == 0));
        // shorter than the fade, empty: no panic
        let mut s = vec![1i16; 10];
        assert_eq!(splice(&mut s, &[2; 10], rate), 0);
        assert_eq!(splice(&mut [], &[], rate), 0);
    }
}
