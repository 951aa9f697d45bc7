//! AMR-WB files for test peers that have no AMR-WB encoder of their own (Debian's ffmpeg
//! decodes AMR-WB natively but has no encoder): 16 kHz mono s16le in, an AMR-WB storage
//! file (`#!AMR-WB\n` + frames, RFC 4867 §5) out, through the same libvo-amrwbenc eagw uses.
//!
//! `amrwb_codec encode IN.s16 OUT.awb [MODE]` (MODE 0–8, default 2 = 12.65 kbit/s)

use eagw::codec::amrwb::AmrwbEncoder;
use eagw::codec::{frame_samples, Encoder};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 || a[1] != "encode" {
        eprintln!("usage: amrwb_codec encode IN.s16 OUT.awb [MODE]");
        std::process::exit(2);
    }
    let mode: u8 = a.get(4).and_then(|m| m.parse().ok()).unwrap_or(2);
    let raw = std::fs::read(&a[2]).expect("read input");
    let pcm: Vec<i16> = raw.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    let mut enc = AmrwbEncoder::new(mode).expect("mode 0..8");
    let mut out = b"#!AMR-WB\n".to_vec();
    let mut buf = [0u8; 64];
    for f in pcm.chunks_exact(frame_samples(16000)) {
        let n = enc.encode(f, &mut buf).expect("encode");
        out.extend_from_slice(&buf[..n]);
    }
    std::fs::write(&a[3], out).expect("write output");
}
