//! The codec layer against independent peers: G.711 bit for bit against ffmpeg's
//! `pcm_alaw` / `pcm_mulaw`, and voice quality (WB-PESQ, NB for G.711) of each codec
//! alone and of each transcoded path of the transcoding issue, encoded by eagw's codecs
//! frame by frame and decoded by ffmpeg's native decoders (`amrwb`, `opus`: independent
//! of libopencore / libopus). Speech comes from espeak-ng.
//!
//! `cargo test --release --test codec -- --nocapture` prints the README's quality table.

use eagw::codec::amrwb::{AmrwbDecoder, AmrwbEncoder};
use eagw::codec::g711::{self, G711Decoder, G711Encoder, Law};
use eagw::codec::opus::{OpusConfig, OpusDecoder, OpusEncoder};
use eagw::codec::resample::Upsampler;
use std::path::{Path, PathBuf};

mod common;
use common::audio::*;

fn dir() -> PathBuf {
    audio_dir("codec")
}

#[test]
fn g711_is_bit_exact_with_ffmpeg() {
    let d = dir();
    let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    let raw = d.join("all.s16");
    write_raw(&raw, &all);
    for (law, fmt) in [(Law::A, "alaw"), (Law::Mu, "mulaw")] {
        // encoder: every 16-bit input
        let out = d.join(format!("all.{fmt}"));
        ffmpeg(&["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", raw.to_str().unwrap(), "-f", fmt, out.to_str().unwrap()]);
        let theirs = std::fs::read(&out).unwrap();
        let mut ours = vec![0u8; all.len()];
        g711::encode_slice(law, &all, &mut ours);
        assert_eq!(theirs.len(), ours.len());
        let diff = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{fmt}: {diff} of 65536 codes differ from ffmpeg");
        // decoder: every code
        let codes: Vec<u8> = (0..=255).collect();
        let cf = d.join(format!("codes.{fmt}"));
        std::fs::write(&cf, &codes).unwrap();
        let dec = d.join(format!("codes.{fmt}.s16"));
        ffmpeg(&["-f", fmt, "-ar", "8000", "-ac", "1", "-i", cf.to_str().unwrap(), "-f", "s16le", dec.to_str().unwrap()]);
        let theirs = read_raw(&dec);
        let mut ours = vec![0i16; 256];
        g711::decode_slice(law, &codes, &mut ours);
        assert_eq!(ours, theirs, "{fmt} decoder");
    }
}

/// espeak-ng speech, ~9 s, as s16le raw at 48, 16 and 8 kHz (ffmpeg resamples).
/// The browser-side Opus: 48 kHz capture, 32 kbit/s, complexity 10, FEC on but no loss
/// seen (as Chromium sends), capped by the `maxplaybackrate` eagw offers it: 16000 when
/// the other side is AMR-WB, 8000 when it is G.711, 48000 for "Opus alone".
fn browser_opus(src48: &[i16], max_playback_rate: u32) -> Vec<Vec<u8>> {
    let cfg = OpusConfig { sample_rate: 48000, bitrate: 32000, complexity: 10, max_playback_rate, ..Default::default() };
    encode_all(&mut OpusEncoder::new(cfg).unwrap(), src48)
}

/// eagw's own Opus encoder on a transcoded path: 16 kHz in, 32 kbit/s.
fn our_opus(complexity: u8) -> OpusEncoder {
    OpusEncoder::new(OpusConfig { sample_rate: 16000, bitrate: 32000, complexity, ..Default::default() }).unwrap()
}

/// eagw's Opus encoder on transcoded paths by default (`[media]`): CELT (restricted low
/// delay) at complexity 0, 64 kbit/s, 16 kHz in.
fn eagw_opus() -> OpusEncoder {
    OpusEncoder::new(OpusConfig { sample_rate: 16000, bitrate: 64000, complexity: 0, low_delay: true, ..Default::default() }).unwrap()
}

#[test]
fn pesq_of_each_codec_and_transcoded_path() {
    let d = dir();
    let [src48, src16, src8] = speech(&d);
    let (ref16, ref8) = (d.join("ref16.wav"), d.join("ref8.wav"));
    raw_to_wav(&d.join("src16000.s16"), 16000, &ref16);
    raw_to_wav(&d.join("src8000.s16"), 8000, &ref8);
    let awb = |name: &str, frames: &[Vec<u8>]| {
        let f = d.join(format!("{name}.awb"));
        amrwb_file(frames, &f);
        let w = d.join(format!("{name}.wav"));
        ffmpeg_decode(Some("amrwb"), &[], &f, 16000, &w);
        w
    };
    let opus = |name: &str, packets: &[Vec<u8>], rate: u32, out_rate: u32| {
        let f = d.join(format!("{name}.ogg"));
        ogg_opus_file(packets, rate, &f);
        let w = d.join(format!("{name}.wav"));
        ffmpeg_decode(Some("opus"), &[], &f, out_rate, &w);
        w
    };
    let g711 = |name: &str, law: Law, pcm8: &[i16]| {
        let codes = encode_all(&mut G711Encoder::new(law), pcm8).concat();
        let f = d.join(format!("{name}.g711"));
        std::fs::write(&f, codes).unwrap();
        let w = d.join(format!("{name}.wav"));
        let fmt = if law == Law::A { "alaw" } else { "mulaw" };
        ffmpeg_decode(None, &["-f", fmt, "-ar", "8000", "-ac", "1"], &f, 8000, &w);
        w
    };

    // --- each codec alone ---
    let amr_alone: Vec<(u8, PathBuf)> =
        [2u8, 8].iter().map(|&m| (m, awb(&format!("amrwb{m}"), &encode_all(&mut AmrwbEncoder::new(m).unwrap(), &src16)))).collect();
    let opus_browser_w = opus("opus_browser", &browser_opus(&src48, 48000), 48000, 16000);
    let opus_browser_wb = opus("opus_browser_wb", &browser_opus(&src48, 16000), 48000, 16000);
    let opus_browser_nb = opus("opus_browser_nb", &browser_opus(&src48, 8000), 48000, 8000);
    let opus_alone: Vec<(u8, PathBuf)> = [0u8, 5, 10]
        .iter()
        .map(|&c| (c, opus(&format!("opus16_c{c}"), &encode_all(&mut our_opus(c), &src16), 16000, 16000)))
        .collect();
    // the same AMR-WB 12.65 frames decoded by libopencore (ours) instead of ffmpeg
    let ours_w = d.join("amrwb2_opencore.wav");
    let ours_raw = d.join("amrwb2_opencore.s16");
    let frames = encode_all(&mut AmrwbEncoder::new(2).unwrap(), &src16);
    write_raw(&ours_raw, &decode_all(&mut AmrwbDecoder::new().unwrap(), &frames));
    raw_to_wav(&ours_raw, 16000, &ours_w);
    let pcma_w = g711("pcma", Law::A, &src8);
    let pcmu_w = g711("pcmu", Law::Mu, &src8);

    // --- transcoded paths ---
    // Opus (browser) → AMR-WB 12.65 / 23.85: our Opus decoder straight at 16 kHz
    let opus_pcm16 = decode_all(&mut OpusDecoder::new(16000).unwrap(), &browser_opus(&src48, 16000));
    let o2a: Vec<(u8, PathBuf)> = [2u8, 8]
        .iter()
        .map(|&m| (m, awb(&format!("opus_to_amrwb{m}"), &encode_all(&mut AmrwbEncoder::new(m).unwrap(), &opus_pcm16))))
        .collect();
    // AMR-WB (12.65 and 23.85 from the IMS side) → Opus, our encoder at 16 kHz
    let a2o: Vec<(u8, PathBuf)> = [2u8, 8]
        .iter()
        .map(|&m| {
            let frames = encode_all(&mut AmrwbEncoder::new(m).unwrap(), &src16);
            let pcm = decode_all(&mut AmrwbDecoder::new().unwrap(), &frames);
            (m, opus(&format!("amrwb{m}_to_opus"), &encode_all(&mut eagw_opus(), &pcm), 16000, 16000))
        })
        .collect();
    // Opus (browser) → G.711: our Opus decoder straight at 8 kHz
    let opus_pcm8 = decode_all(&mut OpusDecoder::new(8000).unwrap(), &browser_opus(&src48, 8000));
    let o2g = g711("opus_to_pcma", Law::A, &opus_pcm8);
    // G.711 → AMR-WB 12.65: decode, our 8→16 kHz resampler, encode
    let pcma = encode_all(&mut G711Encoder::new(Law::A), &src8);
    let pcm8 = decode_all(&mut G711Decoder::new(Law::A), &pcma);
    let mut up = Upsampler::new();
    let mut pcm16 = Vec::new();
    for f in pcm8.chunks(160) {
        let mut o = [0i16; 320];
        let k = up.process(f, &mut o);
        pcm16.extend_from_slice(&o[..k]);
    }
    let g2a = awb("pcma_to_amrwb2", &encode_all(&mut AmrwbEncoder::new(2).unwrap(), &pcm16));
    // its fair reference is the narrow-band speech G.711 carried: src8 up to 16 kHz
    // (by ffmpeg), and the target codec alone on that same speech
    let nbref16 = d.join("nbref16.wav");
    ffmpeg(&["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", d.join("src8000.s16").to_str().unwrap(), "-ar", "16000", nbref16.to_str().unwrap()]);
    let nb16 = d.join("nbref16.s16");
    ffmpeg(&["-i", nbref16.to_str().unwrap(), "-f", "s16le", nb16.to_str().unwrap()]);
    let nb16_pcm = read_raw(&nb16);
    let nb16_pcm = &nb16_pcm[..nb16_pcm.len() / 320 * 320];
    let amr_nb_alone = awb("nbref_amrwb2", &encode_all(&mut AmrwbEncoder::new(2).unwrap(), nb16_pcm));

    // --- scores ---
    let mut wb: Vec<&Path> = vec![&amr_alone[0].1, &amr_alone[1].1, &opus_browser_w];
    wb.extend(opus_alone.iter().map(|(_, p)| p.as_path()));
    wb.extend(o2a.iter().map(|(_, p)| p.as_path()));
    wb.extend(a2o.iter().map(|(_, p)| p.as_path()));
    wb.push(&opus_browser_wb);
    wb.push(&ours_w);
    let eagw_alone = opus("opus16_eagw", &encode_all(&mut eagw_opus(), &src16), 16000, 16000);
    wb.push(&eagw_alone);
    let s = pesq("wb", &ref16, &wb);
    let nb = pesq("nb", &ref8, &[&pcma_w, &pcmu_w, &o2g, &opus_browser_nb]);
    let nbwb = pesq("wb", &nbref16, &[&amr_nb_alone, &g2a]);
    let (amr2, amr8, opus_b, opus_c0, opus_c5, opus_c10) = (s[0], s[1], s[2], s[3], s[4], s[5]);
    let (o2a2, o2a8, a2o2, a2o8, opus_bwb, amr2_opencore) = (s[6], s[7], s[8], s[9], s[10], s[11]);
    let opus_ours = s[12];
    let (pcma, pcmu, o2g, opus_bnb) = (nb[0], nb[1], nb[2], nb[3]);
    let (amr_nb, g2a) = (nbwb[0], nbwb[1]);

    println!("| path | PESQ | alone: source codec | alone: target codec | weaker alone − path |");
    println!("|---|---|---|---|---|");
    println!("| AMR-WB 12.65 alone (WB) | {amr2:.2} (libopencore decoding: {amr2_opencore:.2}) | | | |");
    println!("| AMR-WB 23.85 alone (WB) | {amr8:.2} | | | |");
    println!("| Opus 32k browser-side (48 kHz in, complexity 10) alone (WB) | {opus_b:.2} | | | |");
    println!("| same, maxplaybackrate=16000 (WB) / 8000 (NB) | {opus_bwb:.2} / {opus_bnb:.2} | | | |");
    println!("| Opus 32k SILK (16 kHz in, VoIP application) complexity 0 / 5 / 10 (WB) | {opus_c0:.2} / {opus_c5:.2} / {opus_c10:.2} | | | |");
    println!("| Opus eagw default (16 kHz in, CELT, complexity 0, 64k) (WB) | {opus_ours:.2} | | | |");
    println!("| G.711 A-law / µ-law alone (NB) | {pcma:.2} / {pcmu:.2} | | | |");
    // NB and WB scores are not comparable: each row compares scores of one scale; the
    // G.711 → AMR-WB row has no source score on its scale (`src` = None)
    let row = |name: &str, v: f64, src: Option<f64>, dst: f64| {
        let bar = src.map_or(dst, |s| s.min(dst));
        let src_s = src.map_or("(other scale)".to_string(), |s| format!("{s:.2}"));
        println!("| {name} | {v:.2} | {src_s} | {dst:.2} | {:.2} |", bar - v);
        bar - v
    };
    let mut worst = 0f64;
    worst = worst.max(row("Opus → AMR-WB 12.65 (WB)", o2a2, Some(opus_bwb), amr2));
    worst = worst.max(row("Opus → AMR-WB 23.85 (WB)", o2a8, Some(opus_bwb), amr8));
    worst = worst.max(row("AMR-WB 12.65 → Opus (WB)", a2o2, Some(amr2), opus_ours));
    worst = worst.max(row("AMR-WB 23.85 → Opus (WB)", a2o8, Some(amr8), opus_ours));
    worst = worst.max(row("Opus → G.711 A-law (NB)", o2g, Some(opus_bnb), pcma));
    worst = worst.max(row("G.711 A-law → AMR-WB 12.65 (WB, NB speech)", g2a, None, amr_nb));
    println!("worst loss against the weaker codec alone: {worst:.2}");
    // sanity floors: each codec alone is as good as it is on this speech (espeak-ng's
    // synthetic voice scores low through AMR-WB's ACELP, with either decoder)
    assert!(amr2 > 2.3 && amr8 > amr2 + 0.2, "AMR-WB alone {amr2} {amr8}");
    assert!((amr2 - amr2_opencore).abs() < 0.2, "ffmpeg {amr2} vs libopencore {amr2_opencore}");
    assert!(opus_b > 3.8 && opus_ours > 3.8, "Opus alone {opus_b} {opus_ours}");
    assert!(pcma > 3.8 && pcmu > 3.8, "G.711 alone {pcma} {pcmu}");
    // the bar: a transcoded path is within 0.15 of the codec alone (here: the
    // weaker of its two codecs alone; against the target alone where that is weaker)
    assert!(worst <= 0.15, "a transcoded path loses {worst:.2} > 0.15 against the weaker codec alone");
}
