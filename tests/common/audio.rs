//! Audio helpers of the quality tests: speech from espeak-ng, ffmpeg's native decoders
//! as the independent reference, container writers (AMR-WB storage file, Ogg Opus) and
//! WB/NB-PESQ through the test venv.

use eagw::codec::{frame_samples, Decoder, Encoder, Input};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scratch folder of the test run (`target/tmp/<name>`).
pub fn audio_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn ffmpeg(args: &[&str]) {
    let st = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args(args)
        .status()
        .expect("ffmpeg (scripts/deps.sh test installs it)");
    assert!(st.success(), "ffmpeg {args:?}");
}

pub fn read_raw(p: &Path) -> Vec<i16> {
    std::fs::read(p).unwrap().chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

pub fn write_raw(p: &Path, s: &[i16]) {
    let b: Vec<u8> = s.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(p, b).unwrap();
}

/// `raw` (s16le mono at `rate`) → WAV at `rate`.
pub fn raw_to_wav(raw: &Path, rate: u32, wav: &Path) {
    let r = rate.to_string();
    ffmpeg(&["-f", "s16le", "-ar", &r, "-ac", "1", "-i", raw.to_str().unwrap(), wav.to_str().unwrap()]);
}

pub fn speech(d: &Path) -> [Vec<i16>; 3] {
    let wav = d.join("espeak.wav");
    let text = "The quick brown fox jumps over the lazy dog. Please call me back after five. \
                Seven ships sailed across the bay. A red balloon floated over the town square.";
    let st = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "160", "-w", wav.to_str().unwrap(), text])
        .status()
        .expect("espeak-ng (scripts/deps.sh test installs it)");
    assert!(st.success());
    let mut out: [Vec<i16>; 3] = Default::default();
    for (i, rate) in [48000u32, 16000, 8000].iter().enumerate() {
        let raw = d.join(format!("src{rate}.s16"));
        let r = rate.to_string();
        ffmpeg(&[
            "-i",
            wav.to_str().unwrap(),
            "-af",
            "adelay=300:all=1,apad=pad_dur=0.5",
            "-ar",
            &r,
            "-ac",
            "1",
            "-f",
            "s16le",
            raw.to_str().unwrap(),
        ]);
        let mut s = read_raw(&raw);
        s.truncate(s.len() / frame_samples(*rate) * frame_samples(*rate));
        out[i] = s;
    }
    out
}

/// Runs `pcm` through `dec`∘(payloads) frame by frame.
pub fn decode_all(dec: &mut dyn Decoder, payloads: &[Vec<u8>]) -> Vec<i16> {
    let n = frame_samples(dec.sample_rate());
    let mut out = vec![0i16; n];
    let mut pcm = Vec::new();
    for p in payloads {
        let k = dec.decode(Input::Frame(p), &mut out).unwrap();
        pcm.extend_from_slice(&out[..k]);
    }
    pcm
}

pub fn encode_all(enc: &mut dyn Encoder, pcm: &[i16]) -> Vec<Vec<u8>> {
    let n = frame_samples(enc.sample_rate());
    let mut buf = [0u8; 1500];
    pcm.chunks_exact(n)
        .map(|f| {
            let k = enc.encode(f, &mut buf).unwrap();
            buf[..k].to_vec()
        })
        .collect()
}

pub fn amrwb_file(frames: &[Vec<u8>], path: &Path) {
    let mut b = b"#!AMR-WB\n".to_vec();
    for f in frames {
        b.extend_from_slice(f);
    }
    std::fs::write(path, b).unwrap();
}

pub fn ogg_opus_file(packets: &[Vec<u8>], input_rate: u32, path: &Path) {
    ogg_opus_file_ch(packets, input_rate, 1, path)
}

/// Ogg Opus of `channels` channels (a gateway may send stereo).
pub fn ogg_opus_file_ch(packets: &[Vec<u8>], input_rate: u32, channels: u8, path: &Path) {
    use ogg::writing::{PacketWriteEndInfo, PacketWriter};
    let mut w = PacketWriter::new(std::fs::File::create(path).unwrap());
    let mut head = b"OpusHead".to_vec();
    head.extend_from_slice(&[1, channels]); // version, channels
    head.extend_from_slice(&0u16.to_le_bytes()); // pre-skip (PESQ aligns the delay)
    head.extend_from_slice(&input_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0); // mapping family
    w.write_packet(head, 1, PacketWriteEndInfo::EndPage, 0).unwrap();
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&4u32.to_le_bytes());
    tags.extend_from_slice(b"eagw");
    tags.extend_from_slice(&0u32.to_le_bytes());
    w.write_packet(tags, 1, PacketWriteEndInfo::EndPage, 0).unwrap();
    for (i, p) in packets.iter().enumerate() {
        let end = if i + 1 == packets.len() { PacketWriteEndInfo::EndStream } else { PacketWriteEndInfo::NormalPacket };
        w.write_packet(p.clone(), 1, end, (i as u64 + 1) * 960).unwrap();
    }
}

/// Receives RTP until `quiet` passes with nothing: (header, payload) of each packet.
pub fn receive_rtp(sock: &std::net::UdpSocket, quiet: std::time::Duration) -> Vec<(eagw::media::rtp::RtpHeader, Vec<u8>)> {
    use eagw::media::rtp::{classify, Kind};
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut out = vec![];
    let mut buf = [0u8; 2048];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        if let Kind::Rtp(h) = classify(&buf[..n]) {
            out.push((h, buf[h.payload_offset..n].to_vec()));
        }
    }
    out
}

/// Decodes a file with ffmpeg's native decoder `codec` into a WAV at `rate`.
pub fn ffmpeg_decode(codec: Option<&str>, input_args: &[&str], file: &Path, rate: u32, wav: &Path) {
    let r = rate.to_string();
    let mut a: Vec<&str> = Vec::new();
    a.extend_from_slice(input_args);
    if let Some(c) = codec {
        a.extend_from_slice(&["-c:a", c]);
    }
    a.extend_from_slice(&["-i", file.to_str().unwrap(), "-ar", &r, "-ac", "1", "-sample_fmt", "s16", wav.to_str().unwrap()]);
    ffmpeg(&a);
}

pub fn pesq(mode: &str, reference: &Path, degraded: &[&Path]) -> Vec<f64> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/codec/pesq_score.py");
    let out = Command::new(&py)
        .arg(script)
        .arg(mode)
        .arg(reference)
        .args(degraded)
        .output()
        .expect("target/pyenv (scripts/deps.sh test creates it)");
    assert!(out.status.success(), "pesq: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse().unwrap()).collect()
}

