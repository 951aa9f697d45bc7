//! Cost of one 20 ms frame through each codec, payload format, resampler and each
//! transcoded path (decode on one side + encode for the other), with Opus complexity
//! 0 / 5 / 10. The input cycles through espeak-ng speech (through ffmpeg, as in
//! tests/codec.rs) so encoders decide modes as they do on speech; without espeak-ng or
//! ffmpeg, through 1 s of a voiced, noisy test signal (said on stderr; libopus at
//! complexity ≥ 7 may then code it as music, which costs differently).
//! `cargo bench --bench codec`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use eagw::codec::amrwb::{AmrwbDecoder, AmrwbEncoder};
use eagw::codec::amrwb_rtp::{depacketize, packetize, Frame, Framing, Payload};
use eagw::codec::g711::{G711Decoder, G711Encoder, Law};
use eagw::codec::opus::{OpusConfig, OpusDecoder, OpusEncoder};
use eagw::codec::resample::{Downsampler, Upsampler};
use eagw::codec::{frame_samples, Decoder, Encoder, Input};
use std::time::Duration;

/// espeak-ng speech at `rate` in 20 ms frames, if espeak-ng and ffmpeg are there.
fn speech(rate: u32) -> Option<Vec<Vec<i16>>> {
    use std::process::Command;
    let wav = std::env::temp_dir().join(format!("eagw-bench-speech-{}.wav", std::process::id()));
    let text = "The quick brown fox jumps over the lazy dog. Please call me back after five.";
    let ok = Command::new("espeak-ng").args(["-v", "en-us", "-w", wav.to_str()?, text]).output().ok()?.status.success();
    if !ok {
        return None;
    }
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i", wav.to_str()?, "-ar", &rate.to_string(), "-ac", "1", "-f", "s16le", "-"])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&wav);
    let s: Vec<i16> = out.stdout.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    let frames: Vec<Vec<i16>> = s.chunks_exact(frame_samples(rate)).map(|c| c.to_vec()).collect();
    (frames.len() > 50).then_some(frames)
}

/// 1 s at `rate`: a 150 Hz pulse-rich voiced tone, a formant-ish 1.2 kHz tone with a 4 Hz
/// envelope and a little noise (deterministic LCG).
fn signal(rate: u32) -> Vec<Vec<i16>> {
    let mut seed = 12345u32;
    let n = rate as usize;
    let s: Vec<i16> = (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let env = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
            let mut v = 0.0;
            for h in 1..8 {
                v += (2.0 * std::f64::consts::PI * 150.0 * h as f64 * t).sin() / h as f64;
            }
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = ((seed >> 16) as f64 / 65536.0 - 0.5) * 600.0;
            (env * (5000.0 * v + 2500.0 * (2.0 * std::f64::consts::PI * 1200.0 * t).sin()) + noise) as i16
        })
        .collect();
    s.chunks_exact(frame_samples(rate)).map(|c| c.to_vec()).collect()
}

fn encoded(enc: &mut dyn Encoder, frames: &[Vec<i16>]) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 1500];
    frames
        .iter()
        .map(|f| {
            let n = enc.encode(f, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

fn opus_enc(rate: u32, complexity: u8) -> OpusEncoder {
    OpusEncoder::new(OpusConfig { sample_rate: rate, bitrate: 32000, complexity, ..Default::default() }).unwrap()
}

/// eagw's default on transcoded paths: CELT (restricted low delay), complexity 0, 64 kbit/s.
fn opus_celt(rate: u32) -> OpusEncoder {
    OpusEncoder::new(OpusConfig { sample_rate: rate, bitrate: 64000, complexity: 0, low_delay: true, ..Default::default() })
        .unwrap()
}

/// The transcoding encoders compared: SILK at complexity 0 / 5 / 10, and eagw's CELT.
fn transcoding_opus(rate: u32) -> Vec<(String, OpusEncoder)> {
    let mut v: Vec<(String, OpusEncoder)> = [0u8, 5, 10].iter().map(|&c| (format!("c{c}"), opus_enc(rate, c))).collect();
    v.push(("celt_c0_64k".to_string(), opus_celt(rate)));
    v
}

fn codecs(c: &mut Criterion) {
    let (s48, s16, s8) = match (speech(48000), speech(16000), speech(8000)) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => {
            eprintln!("codec bench: no espeak-ng/ffmpeg, using a synthetic signal");
            (signal(48000), signal(16000), signal(8000))
        }
    };
    let mut g = c.benchmark_group("codec");
    g.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));

    // --- G.711 ---
    let mut enc = G711Encoder::new(Law::A);
    let mut i = 0;
    let mut out = [0u8; 160];
    g.bench_function("g711a_encode", |b| {
        b.iter(|| {
            i = (i + 1) % s8.len();
            black_box(enc.encode(&s8[i], &mut out).unwrap())
        })
    });
    let pcma = encoded(&mut G711Encoder::new(Law::A), &s8);
    let mut dec = G711Decoder::new(Law::A);
    let mut pcm = [0i16; 960];
    g.bench_function("g711a_decode", |b| {
        b.iter(|| {
            i = (i + 1) % pcma.len();
            black_box(dec.decode(Input::Frame(&pcma[i]), &mut pcm).unwrap())
        })
    });

    // --- Opus ---
    for (rate, frames) in [(48000u32, &s48), (16000, &s16)] {
        for (cx, mut enc) in transcoding_opus(rate) {
            let mut buf = [0u8; 400];
            g.bench_function(format!("opus_encode_{}k_{cx}", rate / 1000), |b| {
                b.iter(|| {
                    i = (i + 1) % frames.len();
                    black_box(enc.encode(&frames[i], &mut buf).unwrap())
                })
            });
        }
    }
    let opus48 = encoded(&mut opus_enc(48000, 10), &s48);
    for rate in [48000u32, 16000, 8000] {
        let mut dec = OpusDecoder::new(rate).unwrap();
        g.bench_function(format!("opus_decode_{}k", rate / 1000), |b| {
            b.iter(|| {
                i = (i + 1) % opus48.len();
                black_box(dec.decode(Input::Frame(&opus48[i]), &mut pcm).unwrap())
            })
        });
    }
    let mut dec = OpusDecoder::new(16000).unwrap();
    g.bench_function("opus_plc_16k", |b| b.iter(|| black_box(dec.decode(Input::Lost, &mut pcm).unwrap())));

    // --- AMR-WB ---
    for mode in [2u8, 8] {
        let mut enc = AmrwbEncoder::new(mode).unwrap();
        let mut buf = [0u8; 64];
        g.bench_function(format!("amrwb_encode_mode{mode}"), |b| {
            b.iter(|| {
                i = (i + 1) % s16.len();
                black_box(enc.encode(&s16[i], &mut buf).unwrap())
            })
        });
    }
    let amr8 = encoded(&mut AmrwbEncoder::new(8).unwrap(), &s16);
    let amr2 = encoded(&mut AmrwbEncoder::new(2).unwrap(), &s16);
    let mut dec = AmrwbDecoder::new().unwrap();
    g.bench_function("amrwb_decode_mode8", |b| {
        b.iter(|| {
            i = (i + 1) % amr8.len();
            black_box(dec.decode(Input::Frame(&amr8[i]), &mut pcm).unwrap())
        })
    });

    // --- RFC 4867 payload, resampler ---
    let frames: Vec<Frame> = amr2.iter().map(|f| Frame::from_storage(f).unwrap()).collect();
    let mut buf = [0u8; 128];
    g.bench_function("amrwb_rtp_packetize_be", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            black_box(packetize(15, &frames[i..i + 1], Framing::BandwidthEfficient, &mut buf).unwrap())
        })
    });
    let payloads: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let n = packetize(15, std::slice::from_ref(f), Framing::BandwidthEfficient, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect();
    let mut p = Payload::default();
    g.bench_function("amrwb_rtp_depacketize_be", |b| {
        b.iter(|| {
            i = (i + 1) % payloads.len();
            depacketize(&payloads[i], Framing::BandwidthEfficient, &mut p).unwrap();
            black_box(p.count)
        })
    });
    let mut up = Upsampler::new();
    let mut o16 = [0i16; 320];
    g.bench_function("resample_up_8k_16k", |b| {
        b.iter(|| {
            i = (i + 1) % s8.len();
            black_box(up.process(&s8[i], &mut o16))
        })
    });
    let mut down = Downsampler::new();
    let mut o8 = [0i16; 160];
    g.bench_function("resample_down_16k_8k", |b| {
        b.iter(|| {
            i = (i + 1) % s16.len();
            black_box(down.process(&s16[i], &mut o8))
        })
    });
    g.finish();

    // --- transcoded paths: one 20 ms frame, decode + encode ---
    let mut g = c.benchmark_group("path");
    g.sample_size(30).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let mut od = OpusDecoder::new(16000).unwrap();
    let mut ae = AmrwbEncoder::new(2).unwrap();
    let mut abuf = [0u8; 64];
    g.bench_function("opus_to_amrwb12.65", |b| {
        b.iter(|| {
            i = (i + 1) % opus48.len();
            let n = od.decode(Input::Frame(&opus48[i]), &mut pcm).unwrap();
            black_box(ae.encode(&pcm[..n], &mut abuf).unwrap())
        })
    });
    for ((cx, mut oe), (_, mut oe2)) in transcoding_opus(16000).into_iter().zip(transcoding_opus(16000)) {
        let mut ad = AmrwbDecoder::new().unwrap();
        let mut obuf = [0u8; 400];
        g.bench_function(format!("amrwb_to_opus_{cx}"), |b| {
            b.iter(|| {
                i = (i + 1) % amr2.len();
                let n = ad.decode(Input::Frame(&amr2[i]), &mut pcm).unwrap();
                black_box(oe.encode(&pcm[..n], &mut obuf).unwrap())
            })
        });
        // one Opus ↔ AMR-WB call: both directions of one 20 ms frame
        let mut ad = AmrwbDecoder::new().unwrap();
        g.bench_function(format!("call_opus_amrwb_both_ways_{cx}"), |b| {
            b.iter(|| {
                i = (i + 1) % amr2.len();
                let n = od.decode(Input::Frame(&opus48[i]), &mut pcm).unwrap();
                black_box(ae.encode(&pcm[..n], &mut abuf).unwrap());
                let n = ad.decode(Input::Frame(&amr2[i]), &mut pcm).unwrap();
                black_box(oe2.encode(&pcm[..n], &mut obuf).unwrap())
            })
        });
    }
    // The same call at density: N calls' codec states (what a worker holds at N calls)
    // taken in turn, so each frame finds its states as cold as in a loaded worker (the
    // figure above keeps one call's states in the core's caches). Each call walks the
    // speech from its own starting point, so any stretch of the run covers all of it (a
    // shared frame index moved on once per round would measure only the frames it reached).
    for n in [1usize, 40] {
        let len = amr2.len().min(opus48.len());
        let mut calls: Vec<_> = (0..n)
            .map(|c| (c * len / n, OpusDecoder::new(16000).unwrap(), AmrwbEncoder::new(2).unwrap(), AmrwbDecoder::new().unwrap(), opus_celt(16000)))
            .collect();
        let mut obuf = [0u8; 400];
        let mut k = 0;
        g.bench_function(format!("call_opus_amrwb_celt_c0_at_{n}_calls"), |b| {
            b.iter(|| {
                k = (k + 1) % n;
                let (f, od, ae, ad, oe) = &mut calls[k];
                *f = (*f + 1) % len;
                let m = od.decode(Input::Frame(&opus48[*f]), &mut pcm).unwrap();
                black_box(ae.encode(&pcm[..m], &mut abuf).unwrap());
                let m = ad.decode(Input::Frame(&amr2[*f]), &mut pcm).unwrap();
                black_box(oe.encode(&pcm[..m], &mut obuf).unwrap())
            })
        });
    }
    let mut od8 = OpusDecoder::new(8000).unwrap();
    let mut ge = G711Encoder::new(Law::A);
    let mut gbuf = [0u8; 160];
    g.bench_function("opus_to_g711", |b| {
        b.iter(|| {
            i = (i + 1) % opus48.len();
            let n = od8.decode(Input::Frame(&opus48[i]), &mut pcm).unwrap();
            black_box(ge.encode(&pcm[..n], &mut gbuf).unwrap())
        })
    });
    // G.711 → Opus as eagw does it: decode, 8 → 16 kHz, encode at 16 kHz
    for (cx, mut oe) in transcoding_opus(16000).into_iter().filter(|(c, _)| c != "c10") {
        let mut gd = G711Decoder::new(Law::A);
        let mut up = Upsampler::new();
        let mut obuf = [0u8; 400];
        g.bench_function(format!("g711_to_opus_{cx}"), |b| {
            b.iter(|| {
                i = (i + 1) % pcma.len();
                let n = gd.decode(Input::Frame(&pcma[i]), &mut pcm).unwrap();
                let k = up.process(&pcm[..n], &mut o16);
                black_box(oe.encode(&o16[..k], &mut obuf).unwrap())
            })
        });
    }
    let mut gd = G711Decoder::new(Law::A);
    let mut up = Upsampler::new();
    g.bench_function("g711_to_amrwb12.65", |b| {
        b.iter(|| {
            i = (i + 1) % pcma.len();
            let n = gd.decode(Input::Frame(&pcma[i]), &mut pcm).unwrap();
            let k = up.process(&pcm[..n], &mut o16);
            black_box(ae.encode(&o16[..k], &mut abuf).unwrap())
        })
    });
    // DTMF: the detector on a frame of speech at each rate, the splice of two frames
    for (rate, frames) in [(8000u32, &s8), (16000, &s16), (48000, &s48)] {
        let mut det = eagw::media::dtmf::Detector::new(rate);
        g.bench_function(format!("dtmf_detect_{}k", rate / 1000), |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                black_box(det.frame(&frames[i]))
            })
        });
    }
    let mut spliced = s16[0].clone();
    g.bench_function("stretch_splice_16k", |b| {
        b.iter(|| {
            i = (i + 1) % (s16.len() - 1);
            spliced.copy_from_slice(&s16[i]);
            black_box(eagw::media::stretch::splice(&mut spliced, &s16[i + 1], 16000))
        })
    });
    g.finish();
}

criterion_group!(benches, codecs);
criterion_main!(benches);
