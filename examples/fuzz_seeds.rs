//! Writes the seeds of the `stun`, `dtls` and `rtcp` fuzz targets into fuzz/seeds/: connectivity
//! checks made with `binding_request` (right and wrong credentials, in the stun target's
//! record format), and the datagrams of a real handshake between two `Dtls` instances.
//!
//! `cargo run --example fuzz_seeds` (from the repository root). The handshake is new each
//! run (fresh certificates and randoms), so the DTLS seeds change when rewritten.

use eagw::transport::dtls::{parse_fingerprint, Dtls, Identity};
use eagw::transport::ice::binding_request;
use std::path::Path;
use std::time::Instant;

/// The stun target's local credentials (fuzz/fuzz_targets/stun.rs).
const UFRAG: &str = "eagwUfrg";
const PWD: &str = "eagwLocalPassword0123456";

/// One record of the stun target: source `src`, kind `kind` (0 raw, 1 signed by the target).
fn record(out: &mut Vec<u8>, src: u8, kind: u8, payload: &[u8]) {
    out.push(src | kind << 3);
    out.push(payload.len() as u8);
    out.extend_from_slice(payload);
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

fn stun_seeds(dir: &Path) {
    let p = rtc_crypto::default_provider().unwrap();
    let c = p.crypto();
    let user = format!("{UFRAG}:brws");
    let mut s = vec![];
    // a check, a nomination, and a nomination from another source that moves it
    record(&mut s, 0, 0, &binding_request(&user, PWD, false, c));
    record(&mut s, 0, 0, &binding_request(&user, PWD, true, c));
    record(&mut s, 1, 0, &binding_request(&user, PWD, true, c));
    write(dir, "valid_checks.bin", &s);
    let mut s = vec![];
    record(&mut s, 2, 0, &binding_request(&user, "wrong-password-0123456789", true, c));
    write(dir, "wrong_password.bin", &s);
    let mut s = vec![];
    record(&mut s, 3, 0, &binding_request("someone:brws", PWD, true, c));
    record(&mut s, 3, 0, &binding_request(UFRAG, PWD, true, c));
    write(dir, "wrong_ufrag.bin", &s);
    // checks the target signs itself: every combination of the flag bits, one per source
    let mut s = vec![];
    for flags in 0..16u8 {
        record(&mut s, flags & 7, 1, &[flags]);
    }
    write(dir, "signed_checks.bin", &s);
    // a signed check without USE-CANDIDATE, USE-CANDIDATE appended after the integrity
    let mut s = vec![];
    record(&mut s, 5, 1, &[0x03, 0x00, 0x25, 0x00, 0x00]);
    write(dir, "use_candidate_after_integrity.bin", &s);
    // an indication (keepalive) and a success response
    let mut ind = binding_request(&user, PWD, false, c);
    ind[0..2].copy_from_slice(&[0x00, 0x11]);
    let mut resp = binding_request(&user, PWD, false, c);
    resp[0..2].copy_from_slice(&[0x01, 0x01]);
    let mut s = vec![];
    record(&mut s, 4, 0, &ind);
    record(&mut s, 4, 0, &resp);
    write(dir, "not_requests.bin", &s);
}

/// The datagrams each side sends in a handshake (client first), both sides completing.
fn handshake() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (ia, ib) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let now = Instant::now();
    let mut client = Dtls::new(&ia, true, &parse_fingerprint(&ib.fingerprint).unwrap()).unwrap();
    let mut server = Dtls::new(&ib, false, &parse_fingerprint(&ia.fingerprint).unwrap()).unwrap();
    client.start(now);
    let (mut from_client, mut from_server) = (vec![], vec![]);
    let (mut kc, mut ks) = (None, None);
    for _ in 0..20 {
        let mut moved = false;
        while let Some(p) = client.poll_transmit() {
            moved = true;
            from_client.push(p.to_vec());
            ks = ks.or(server.on_packet(&p, now).unwrap());
        }
        while let Some(p) = server.poll_transmit() {
            moved = true;
            from_server.push(p.to_vec());
            kc = kc.or(client.on_packet(&p, now).unwrap());
        }
        if !moved {
            break;
        }
    }
    assert!(kc.is_some() && ks.is_some(), "the handshake did not complete");
    (from_client, from_server)
}

fn dtls_seeds(dir: &Path) {
    let (from_client, from_server) = handshake();
    let datagrams = |ps: &[Vec<u8>]| {
        let mut s = vec![0u8];
        for p in ps {
            s.extend_from_slice(&(p.len() as u16).to_be_bytes());
            s.extend_from_slice(p);
        }
        s
    };
    write(dir, "client_hello.bin", &datagrams(&from_client[..1]));
    write(dir, "client_flights.bin", &datagrams(&from_client));
    write(dir, "server_flights.bin", &datagrams(&from_server));
    // the tampering mode: untouched, and one byte flipped in each datagram of the exchange
    write(dir, "handshake.bin", &[1, 255]);
    for k in 0..(from_client.len() + from_server.len()) as u8 {
        write(dir, &format!("handshake_flip_{k}.bin"), &[1, k, 0, 13, 0x01]);
    }
}

/// The rtcp target's records (fuzz/fuzz_targets/rtcp.rs): the party's RTCP, RTP both
/// ways, reports; and a report of eagw's as raw input.
fn rtcp_seeds(dir: &Path) {
    use eagw::media::rtcp::Rtcp;
    use eagw::media::rtp::RtpHeader;
    let rtp = |out: &mut Vec<u8>, kind: u8, seq: u16, ts: u32, ssrc: u8, pt: u8, dt: u8| {
        out.push(kind);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&[ssrc, pt, dt]);
    };
    let mut sr = vec![0x80, 200, 0, 6, 0, 0, 0, 5];
    sr.extend_from_slice(&[0, 1, 0x23, 0x45, 0x67, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 90]);
    let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0, 5, 0, 0, 0, 0xaa, 0x1a, 0, 0, 3];
    rr.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    let mut s = vec![0, sr.len() as u8];
    s.extend_from_slice(&sr);
    for i in 0..20u16 {
        if i != 7 {
            rtp(&mut s, 1, i, i as u32 * 160, 5, 0, 20);
        }
        rtp(&mut s, 2, 100 + i, i as u32 * 960, 0xaa, 111, 0);
    }
    s.push(3);
    s.extend_from_slice(&[0, rr.len() as u8]);
    s.extend_from_slice(&rr);
    s.push(3);
    write(dir, "sr_rtp_rr.bin", &s);
    let mut s = vec![];
    for i in 0..12u32 {
        rtp(&mut s, 1, 65530u16.wrapping_add(i as u16), i * 160, 1, 8, 20 + (i % 3) as u8 * 5);
    }
    rtp(&mut s, 1, 3, 0, 1, 8, 20); // late
    rtp(&mut s, 1, 30000, 0, 1, 8, 20); // a jump
    rtp(&mut s, 1, 30001, 0, 1, 8, 20); // a restart
    s.push(3);
    write(dir, "wrap_reorder_jump.bin", &s);
    // a compound of eagw's own, as raw input
    let mut r = Rtcp::new(1, 5_000_000_000, 0);
    r.set_clocks(&[(0, 8000)]);
    let h = |seq: u16, ssrc: u32| RtpHeader { marker: false, payload_type: 0, sequence: seq, timestamp: seq as u32 * 160, ssrc, payload_offset: 12 };
    for i in 0..10 {
        r.on_rtp_received(&h(i, 5), i as u64 * 20_000_000);
        r.on_rtp_sent(&h(i, 6), 160, i as u64 * 20_000_000);
    }
    let mut buf = [0u8; 512];
    let n = r.build(300_000_000, 0x1234_5678_9abc_def0, &mut buf);
    write(dir, "eagw_report.bin", &buf[..n]);
}

/// Speech-like test signal: two tones with a slow envelope, at `rate`.
fn voice(rate: u32, frame: usize, n: usize) -> Vec<i16> {
    (frame * n..frame * n + n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let env = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            (env * (9000.0 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                + 3000.0 * (2.0 * std::f64::consts::PI * 1800.0 * t).sin())) as i16
        })
        .collect()
}

/// Real AMR-WB and Opus output for the codec targets: RTP payloads (both framings, one
/// and several frames, SID), storage-frame streams and Opus packet streams in the
/// targets' record format (length octet + bytes).
fn codec_seeds(root: &Path) {
    use eagw::codec::amrwb::{AmrwbEncoder, FRAME};
    use eagw::codec::amrwb_rtp::{packetize, Frame, Framing};
    use eagw::codec::opus::{OpusConfig, OpusEncoder};
    use eagw::codec::Encoder;
    let mut stream = Vec::new();
    for mode in [0u8, 2, 8] {
        let mut enc = AmrwbEncoder::new(mode).unwrap();
        enc.set_dtx(true).unwrap();
        let mut frames = Vec::new();
        for f in 0..4 {
            let mut buf = [0u8; 64];
            let pcm = if f == 3 { vec![0i16; FRAME] } else { voice(16000, f, FRAME) };
            let n = enc.encode(&pcm, &mut buf).unwrap();
            if n > 0 {
                stream.push(n as u8);
                stream.extend_from_slice(&buf[..n]);
                frames.push(Frame::from_storage(&buf[..n]).unwrap());
            }
        }
        stream.push(0); // a lost frame
        for (framing, tag) in [(Framing::BandwidthEfficient, "be"), (Framing::OctetAligned, "oa")] {
            let mut buf = [0u8; 512];
            let n = packetize(mode, &frames[..1], framing, &mut buf).unwrap();
            write(&root.join("amrwb_rtp"), &format!("mode{mode}_{tag}_1.bin"), &buf[..n]);
            let n = packetize(15, &frames, framing, &mut buf).unwrap();
            write(&root.join("amrwb_rtp"), &format!("mode{mode}_{tag}_multi.bin"), &buf[..n]);
        }
    }
    write(&root.join("amrwb_decode"), "modes_0_2_8_dtx.bin", &stream);
    for rate in [8000u32, 16000, 48000] {
        let mut enc = OpusEncoder::new(OpusConfig { sample_rate: rate, packet_loss_pct: 10, ..Default::default() }).unwrap();
        let mut s = vec![[0u8, 1, 2][(rate / 16000).min(2) as usize] | 0x80];
        for f in 0..5 {
            let mut buf = [0u8; 400];
            let n = enc.encode(&voice(rate, f, rate as usize / 50), &mut buf).unwrap();
            if f == 2 {
                s.push(0); // lost, recovered from the next packet's FEC
            } else {
                s.push(n as u8);
                s.extend_from_slice(&buf[..n]);
            }
        }
        write(&root.join("opus_decode"), &format!("opus_{rate}.bin"), &s);
    }
    write(&root.join("g711_decode"), "codes.bin", &[0xd5, 0x55, 0xaa, 0x2a, 0xff, 0x7f, 0x00, 0x80]);
    for (name, text) in [
        ("chromium.txt", "minptime=10;useinbandfec=1"),
        ("opus_all.txt", "maxplaybackrate=16000;sprop-maxcapturerate=16000;stereo=0;useinbandfec=1;usedtx=1;maxaveragebitrate=24000;ptime=20"),
        ("amrwb_ts26114.txt", "mode-change-capability=2; max-red=220"),
        ("amrwb_oa.txt", "octet-align=1; mode-set=0,1,2; mode-change-period=2"),
    ] {
        write(&root.join("codec_fmtp"), name, text.as_bytes());
    }
}

/// The transcode target: a codec pair octet, then records (time step, PT choice 3 = the
/// codec's, timestamp step, length, payload) of real frames of a tone.
fn transcode_seeds(dir: &Path) {
    use eagw::codec::amrwb::AmrwbEncoder;
    use eagw::codec::amrwb_rtp::{self, Framing};
    use eagw::codec::g711::G711Encoder;
    use eagw::codec::opus::{OpusConfig, OpusEncoder};
    use eagw::codec::{frame_samples, Encoder};
    // (pair octet: rx | tx << 2, 0x20 = DTMF on both sides)
    for (sel, name) in [(0x2c_u8, "pcmu_to_amrwb"), (0x2e, "opus_to_amrwb"), (0x2b, "amrwb_to_opus"), (0x29, "pcma_to_opus")] {
        let rx = sel & 3;
        let (rate, step): (u32, u16) = match rx {
            0 | 1 => (8000, 160),
            2 => (48000, 960),
            _ => (16000, 320),
        };
        let mut enc: Box<dyn Encoder> = match rx {
            0 => Box::new(G711Encoder::new(eagw::codec::g711::Law::Mu)),
            1 => Box::new(G711Encoder::new(eagw::codec::g711::Law::A)),
            2 => Box::new(OpusEncoder::new(OpusConfig { bitrate: 24000, ..Default::default() }).unwrap()),
            _ => Box::new(AmrwbEncoder::new(2).unwrap()),
        };
        let n = frame_samples(rate);
        let mut out = vec![sel];
        for i in 0..30 {
            let pcm: Vec<i16> = (0..n).map(|k| (((i * n + k) as f64 * 0.05).sin() * 6000.0) as i16).collect();
            let mut buf = [0u8; 400];
            let len = enc.encode(&pcm, &mut buf).unwrap();
            let payload = if rx == 3 {
                let f = amrwb_rtp::Frame::from_storage(&buf[..len]).unwrap();
                let mut p = [0u8; 80];
                let k = amrwb_rtp::packetize(15, &[f], Framing::BandwidthEfficient, &mut p).unwrap();
                p[..k].to_vec()
            } else {
                buf[..len].to_vec()
            };
            out.extend_from_slice(&[20, 3]);
            out.extend_from_slice(&step.to_be_bytes());
            out.push(payload.len().min(255) as u8);
            out.extend_from_slice(&payload[..payload.len().min(255)]);
        }
        write(dir, name, &out);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    rtcp_seeds(&root.join("rtcp"));
    stun_seeds(&root.join("stun"));
    dtls_seeds(&root.join("dtls"));
    codec_seeds(&root);
    transcode_seeds(&root.join("transcode"));
    println!("seeds written to {}", root.display());
}
