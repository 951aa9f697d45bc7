//! Opus <-> PCMA quality side by side: the same espeak-ng speech through any ng gateway
//! (eagw, rtpengine) set up with `codec: {mask: [all], transcode: [PCMA]}` on the Opus
//! offer, an Opus party (a browser's encoder: libopus at 48 kHz, complexity 10, 32 kbit/s)
//! and a PCMA party sending at the same time in real time. What the PCMA party heard is
//! decoded by ffmpeg's `pcm_alaw` and scored with NB-PESQ against the 8 kHz source; what the
//! Opus party heard is decoded by ffmpeg's native `opus` decoder and scored with WB-PESQ
//! against the 16 kHz source. The gateways are not started here:
//!
//! `TRANSCODE_NG="eagw=127.0.0.1:2241,rtpengine=127.0.0.1:2242" cargo test --release
//! --test transcode_rtpengine -- --ignored --nocapture` (scripts/transcode-compare.sh with
//! QUALITY=1 starts both and runs this).

mod common;

use common::audio::*;
use eagw::codec::g711::{G711Encoder, Law};
use eagw::codec::opus::{OpusConfig, OpusEncoder};
use eagw::control::bencode::{self, DictBuilder, Value};
use eagw::media::rtp::RtpHeader;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

fn ng(sock: &UdpSocket, to: SocketAddr, n: &mut u32, v: &Value) -> Value {
    *n += 1;
    let cookie = format!("xq{}_{n}", std::process::id());
    let mut msg = format!("{cookie} ").into_bytes();
    bencode::encode(v, &mut msg);
    let mut buf = vec![0u8; 65536];
    for _ in 0..3 {
        sock.send_to(&msg, to).unwrap();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(1) {
            let Ok(k) = sock.recv(&mut buf) else { break };
            if let Some(body) = buf[..k].strip_prefix(cookie.as_bytes()).and_then(|b| b.strip_prefix(b" ")) {
                return bencode::decode_all(body).unwrap();
            }
        }
    }
    panic!("no ng reply from {to}");
}

fn sdp(port: u16, media: &str) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{}a=sendrecv\r\n", media.replace("{p}", &port.to_string()))
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if seq == 0 { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn send_paced(sock: &UdpSocket, to: SocketAddr, packets: Vec<Vec<u8>>, t0: Instant) {
    for (i, p) in packets.into_iter().enumerate() {
        if let Some(w) = (t0 + Duration::from_millis(20 * i as u64)).checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        sock.send_to(&p, to).unwrap();
    }
}


/// `packets` in timestamp order, each missing `step` filled by `gap(previous payload)`.
fn in_order(mut pk: Vec<(RtpHeader, Vec<u8>)>, step: u32, gap: impl Fn(&[u8]) -> Vec<u8>) -> Vec<Vec<u8>> {
    let t_first = pk[0].0.timestamp;
    pk.sort_by_key(|(h, _)| h.timestamp.wrapping_sub(t_first) as i32);
    pk.dedup_by_key(|(h, _)| h.timestamp);
    let mut out = vec![];
    let mut next = pk[0].0.timestamp;
    for (h, p) in &pk {
        while (h.timestamp.wrapping_sub(next) as i32) > 0 {
            out.push(gap(p));
            next = next.wrapping_add(step);
        }
        out.push(p.clone());
        next = h.timestamp.wrapping_add(step);
    }
    out
}


fn alaw_to_wav(payloads: &[Vec<u8>], d: &Path, name: &str, rate: u32) -> std::path::PathBuf {
    let raw = d.join(format!("{name}.alaw"));
    std::fs::write(&raw, payloads.concat()).unwrap();
    let wav = d.join(format!("{name}.wav"));
    ffmpeg_decode(None, &["-f", "alaw", "-ar", "8000", "-ac", "1"], &raw, rate, &wav);
    wav
}

struct Scores {
    to_pcma_nb: f64,
    to_opus_wb: f64,
    opus_toc: u8,
    opus_bytes: f64,
    received: (usize, usize),
}

fn call_through(gw: &str, ngaddr: SocketAddr, d: &Path, opus: &[Vec<u8>], alaw: &[Vec<u8>]) -> Scores {
    let ctl = UdpSocket::bind("127.0.0.1:0").unwrap();
    ctl.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut n = 0;
    let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    let call = format!("xq-{gw}-{}", std::process::id());
    let codec = DictBuilder::new()
        .val("mask", Value::List(vec![Value::str("all")]))
        .val("transcode", Value::List(vec![Value::str("PCMA")]))
        .build();
    let opus_m = "m=audio {p} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n";
    let off = DictBuilder::new()
        .str("command", "offer")
        .str("call-id", &call)
        .str("from-tag", "A")
        .str("sdp", sdp(a.local_addr().unwrap().port(), opus_m))
        .val("codec", codec)
        .build();
    let r = ng(&ctl, ngaddr, &mut n, &off);
    let to_b = r.get("sdp").and_then(Value::as_str).unwrap_or_else(|| panic!("{gw} offer: {r:?}")).to_string();
    println!("{gw}: offer towards the PCMA party: {}", to_b.lines().filter(|l| l.starts_with("m=") || l.starts_with("a=rtpmap")).collect::<Vec<_>>().join(" | "));
    let mb = &eagw::sdp::parse(&to_b).unwrap().media[0];
    let pt_b = eagw::session::codecs::formats_of(mb).iter().find(|f| f.name.eq_ignore_ascii_case("PCMA")).map(|f| f.pt).expect("PCMA offered");
    let pcma_m = format!("m=audio {{p}} RTP/AVP {pt_b}\r\na=rtpmap:{pt_b} PCMA/8000\r\n");
    let ans = DictBuilder::new()
        .str("command", "answer")
        .str("call-id", &call)
        .str("from-tag", "A")
        .str("to-tag", "B")
        .str("sdp", sdp(b.local_addr().unwrap().port(), &pcma_m))
        .build();
    let r = ng(&ctl, ngaddr, &mut n, &ans);
    let to_a = r.get("sdp").and_then(Value::as_str).unwrap_or_else(|| panic!("{gw} answer: {r:?}")).to_string();
    println!("{gw}: answer towards the Opus party: {}", to_a.lines().filter(|l| l.starts_with("m=") || l.starts_with("a=rtpmap") || l.starts_with("a=fmtp")).collect::<Vec<_>>().join(" | "));
    let (gw_a, gw_b) = (common::media_addr(&to_a), common::media_addr(&to_b));
    let ma = &eagw::sdp::parse(&to_a).unwrap().media[0];
    let pt_a: u8 = ma.formats[0].parse().unwrap();

    let a_pkts: Vec<Vec<u8>> = opus.iter().enumerate().map(|(i, f)| rtp(111, i as u16, 1000 + i as u32 * 960, 0xa, f)).collect();
    let b_pkts: Vec<Vec<u8>> = alaw.iter().enumerate().map(|(i, f)| rtp(pt_b, i as u16, 7000 + i as u32 * 160, 0xb, f)).collect();
    let t0 = Instant::now() + Duration::from_millis(50);
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let sa = std::thread::spawn(move || send_paced(&a2, gw_a, a_pkts, t0));
    let sb = std::thread::spawn(move || send_paced(&b2, gw_b, b_pkts, t0));
    let rb = std::thread::spawn(move || receive_rtp(&b, Duration::from_millis(1500)));
    let got_a = receive_rtp(&a, Duration::from_millis(1500));
    sa.join().unwrap();
    sb.join().unwrap();
    let got_b = rb.join().unwrap();
    let _ = ng(&ctl, ngaddr, &mut n, &DictBuilder::new().str("command", "delete").str("call-id", &call).str("from-tag", "A").build());

    // the PCMA party: A-law payloads, gaps as A-law silence, cut into 20 ms frames
    let pcma: Vec<_> = got_b.into_iter().filter(|(h, _)| h.payload_type == pt_b).collect();
    assert!(pcma.len() > alaw.len() * 8 / 10, "{gw}: the PCMA party got {} packets of {}", pcma.len(), alaw.len());
    let rec_b = pcma.len();
    let heard_b = alaw_to_wav(&in_order(pcma, 160, |p| vec![0xd5; p.len()]), d, &format!("{gw}_heard_by_pcma"), 8000);
    // the Opus party
    let op: Vec<_> = got_a.into_iter().filter(|(h, _)| h.payload_type == pt_a).collect();
    assert!(op.len() > opus.len() * 8 / 10, "{gw}: the Opus party got {} packets of {}", op.len(), opus.len());
    let rec_a = op.len();
    let opus_bytes = op.iter().map(|(_, p)| p.len()).sum::<usize>() as f64 / op.len() as f64;
    let toc = op[op.len() / 2].1[0];
    let channels = if op.iter().any(|(_, p)| !p.is_empty() && p[0] & 4 != 0) { 2 } else { 1 };
    let ogg = d.join(format!("{gw}_heard_by_opus.ogg"));
    ogg_opus_file_ch(&in_order(op, 960, |p| vec![p[0] & 0xfc]), 48000, channels, &ogg);
    let heard_a = d.join(format!("{gw}_heard_by_opus.wav"));
    ffmpeg_decode(Some("opus"), &[], &ogg, 16000, &heard_a);

    let nb = pesq("nb", &d.join("ref8.wav"), &[&heard_b]);
    let wb = pesq("wb", &d.join("ref16.wav"), &[&heard_a]);
    Scores { to_pcma_nb: nb[0], to_opus_wb: wb[0], opus_toc: toc, opus_bytes, received: (rec_b, rec_a) }
}

#[test]
#[ignore = "needs gateways started by scripts/transcode-compare.sh (TRANSCODE_NG)"]
fn opus_pcma_quality_side_by_side() {
    let list = std::env::var("TRANSCODE_NG").expect("TRANSCODE_NG=name=addr[,name=addr]");
    let d = audio_dir("transcode-rtpengine");
    let [src48, _, src8] = speech(&d);
    raw_to_wav(&d.join("src8000.s16"), 8000, &d.join("ref8.wav"));
    raw_to_wav(&d.join("src16000.s16"), 16000, &d.join("ref16.wav"));
    // the browser: libopus at 48 kHz, complexity 10, 32 kbit/s; the IMS side: A-law
    let opus = encode_all(&mut OpusEncoder::new(OpusConfig { sample_rate: 48000, bitrate: 32000, complexity: 10, ..Default::default() }).unwrap(), &src48);
    let alaw = encode_all(&mut G711Encoder::new(Law::A), &src8);
    // each codec alone on the same speech, scored the same way
    let alaw_nb = alaw_to_wav(&alaw, &d, "alaw_alone_nb", 8000);
    let alaw_wb = alaw_to_wav(&alaw, &d, "alaw_alone_wb", 16000);
    let ogg = d.join("opus_alone.ogg");
    ogg_opus_file_ch(&opus, 48000, 1, &ogg);
    let opus_nb = d.join("opus_alone_nb.wav");
    ffmpeg_decode(Some("opus"), &[], &ogg, 8000, &opus_nb);
    let nb = pesq("nb", &d.join("ref8.wav"), &[&alaw_nb, &opus_nb]);
    let wb = pesq("wb", &d.join("ref16.wav"), &[&alaw_wb]);

    let mut rows = vec![];
    for item in list.split(',') {
        let (name, addr) = item.split_once('=').expect("name=addr");
        let s = call_through(name, addr.parse().unwrap(), &d, &opus, &alaw);
        rows.push((name.to_string(), s));
    }
    println!("speech {:.1} s; alone on the same speech: A-law NB {:.2} (WB, upsampled by ffmpeg, {:.2}); the browser's Opus NB {:.2}", src8.len() as f64 / 8000.0, nb[0], wb[0], nb[1]);
    println!("| gateway | Opus → PCMA (NB-PESQ) | PCMA → Opus (WB-PESQ) | packets received (PCMA / Opus party) | Opus it sent |");
    println!("|---|---|---|---|---|");
    for (name, s) in &rows {
        let t = s.opus_toc;
        println!(
            "| {name} | {:.2} | {:.2} | {} / {} | {:.0} B per packet, TOC config {} {} |",
            s.to_pcma_nb,
            s.to_opus_wb,
            s.received.0,
            s.received.1,
            s.opus_bytes,
            t >> 3,
            if t & 4 != 0 { "stereo" } else { "mono" }
        );
    }
}
