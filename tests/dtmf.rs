//! DTMF interworking through the transcoder, in real time over ng: party A speaks Opus with
//! telephone-event (as a browser does), party B PCMA without telephone-event (a legacy
//! IMS/PSTN gateway). A's RFC 4733 digits must reach B as tones, B's in-band tones must
//! reach A as RFC 4733 events, and `play DTMF` must inject digits either way. B asks for
//! 40 ms packets (`a=ptime:40`) and must get them. What B hears is decoded by ffmpeg (its
//! A-law decoder) and the digits are found by a DFT written here, independent of eagw's
//! Goertzel detector; B's tones are generated here and encoded by ffmpeg.

mod common;

use common::audio::*;
use common::{answer, media_addr, offer, require_ffmpeg, rtp_full as rtp, s, Eagw};
use eagw::codec::opus::{OpusConfig, OpusEncoder};
use eagw::codec::Encoder;
use eagw::control::bencode::{DictBuilder, Value};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const FRAMES: usize = 175; // 3.5 s
const KEYS: [[char; 4]; 4] = [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];
const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// The digit a 20 ms frame at 8 kHz holds, by plain DFT at the eight frequencies.
fn frame_digit(x: &[i16]) -> Option<char> {
    let n = x.len() as f64;
    let power = |f: f64| {
        let (mut re, mut im) = (0f64, 0f64);
        for (i, &s) in x.iter().enumerate() {
            let w = 2.0 * std::f64::consts::PI * f * i as f64 / 8000.0;
            re += s as f64 * w.cos();
            im += s as f64 * w.sin();
        }
        2.0 * (re * re + im * im) / (n * n)
    };
    let pick = |fs: &[f64; 4]| {
        let mut p: Vec<(usize, f64)> = fs.iter().map(|&f| power(f)).enumerate().collect();
        p.sort_by(|a, b| b.1.total_cmp(&a.1));
        (p[0].1 > 4.0 * p[1].1).then_some(p[0])
    };
    let mean = x.iter().map(|&s| s as f64 * s as f64).sum::<f64>() / n;
    let ((r, pl), (c, ph)) = (pick(&LOW)?, pick(&HIGH)?);
    (mean > 1e5 && pl + ph > 0.6 * mean).then_some(KEYS[r][c])
}

/// Digits in 8 kHz audio: runs of at least two frames holding the same digit.
fn digits_in(pcm: &[i16]) -> Vec<(char, usize)> {
    let mut out: Vec<(char, usize)> = vec![];
    let mut run: Option<(char, usize)> = None;
    for f in pcm.chunks_exact(160) {
        let d = frame_digit(f);
        run = match (run, d) {
            (Some((c, k)), Some(e)) if c == e => Some((c, k + 1)),
            (r, d) => {
                out.extend(r.filter(|&(_, k)| k >= 2));
                d.map(|c| (c, 1))
            }
        };
    }
    out.extend(run.filter(|&(_, k)| k >= 2));
    out
}

fn a_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 111 101\r\na=rtpmap:111 opus/48000/2\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
    )
}

fn b_sdp(port: u16) -> String {
    format!(
        "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:40\r\na=sendrecv\r\n"
    )
}

fn play(e: &mut Eagw, call: &str, from: &str, code: &str) -> Value {
    e.ng(&DictBuilder::new()
        .str("command", "play DTMF")
        .str("call-id", call)
        .str("from-tag", from)
        .str("code", code)
        .build())
}

#[test]
fn digits_cross_between_telephone_event_and_inband_and_play_dtmf_injects_them() {
    require_ffmpeg();
    let d = audio_dir("dtmf");
    let mut e = Eagw::start(59, "");
    let (a, b) = (UdpSocket::bind("127.0.0.1:0").unwrap(), UdpSocket::bind("127.0.0.1:0").unwrap());
    let (pa, pb) = (a.local_addr().unwrap().port(), b.local_addr().unwrap().port());
    let call = "dtmf-xc";
    let codec = DictBuilder::new()
        .val("mask", Value::List(vec![Value::str("all")]))
        .val("transcode", Value::List(vec![Value::str("PCMA")]))
        .build();
    let r = e.ng(&offer(call, "A", &a_sdp(pa)).val("codec", codec).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let to_b = s(&r, "sdp");
    assert!(to_b.contains("PCMA/8000") && !to_b.contains("opus"), "{to_b}");
    let r = e.ng(&answer(call, "A", "B", &b_sdp(pb)).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let to_a = s(&r, "sdp");
    // A keeps its telephone-event: eagw plays A's events to B as tones
    assert!(to_a.contains("telephone-event/8000"), "{to_a}");
    let (eagw_a, eagw_b) = (media_addr(&to_a), media_addr(&to_b));

    // A: Opus of quiet noise every 20 ms; '1' at frames 20-29 and '#' at 60-69 as events
    let mut seed = 7u32;
    let mut noise = |n: usize| -> Vec<i16> {
        (0..n)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((seed >> 16) as i16 % 60) - 30
            })
            .collect()
    };
    let mut enc = OpusEncoder::new(OpusConfig { sample_rate: 48000, bitrate: 32000, ..Default::default() }).unwrap();
    let mut a_pkts: Vec<(usize, Vec<u8>)> = vec![];
    let mut seq = 0u16;
    for i in 0..FRAMES {
        let mut buf = [0u8; 1500];
        let k = enc.encode(&noise(960), &mut buf).unwrap();
        a_pkts.push((i, rtp(111, i == 0, seq, 1000 + i as u32 * 960, 0xa, &buf[..k])));
        seq = seq.wrapping_add(1);
        for (start, ev) in [(20usize, 1u8), (60, 11)] {
            if (start..start + 10).contains(&i) {
                let dur = ((i - start + 1) * 160) as u16;
                let end = i == start + 9;
                let pl = [ev, if end { 0x80 | 10 } else { 10 }, (dur >> 8) as u8, dur as u8];
                for _ in 0..if end { 3 } else { 1 } {
                    a_pkts.push((i, rtp(101, i == start, seq, 1000 + start as u32 * 960, 0xa, &pl)));
                    seq = seq.wrapping_add(1);
                }
            }
        }
    }
    // B: A-law (ffmpeg's encoder) of quiet noise with '7' (852 + 1209 Hz, -7 dBm0 each)
    // from frame 100 to 114
    let mut pcm = noise(FRAMES * 160);
    for (i, s) in pcm.iter_mut().enumerate().take(115 * 160).skip(100 * 160) {
        let t = i as f64 / 8000.0;
        let v = 10_000.0 * ((2.0 * std::f64::consts::PI * 852.0 * t).sin() + (2.0 * std::f64::consts::PI * 1209.0 * t).sin());
        *s = v as i16;
    }
    let (raw, al) = (d.join("b_sent.s16"), d.join("b_sent.al"));
    write_raw(&raw, &pcm);
    ffmpeg(&["-f", "s16le", "-ar", "8000", "-ac", "1", "-i", raw.to_str().unwrap(), "-f", "alaw", al.to_str().unwrap()]);
    let alaw = std::fs::read(&al).unwrap();
    let b_pkts: Vec<(usize, Vec<u8>)> = alaw
        .chunks_exact(160)
        .enumerate()
        .map(|(i, c)| (i, rtp(8, i == 0, i as u16, 3000 + i as u32 * 160, 0xb, c)))
        .collect();

    let t0 = Instant::now() + Duration::from_millis(50);
    let send = |sock: &UdpSocket, to: SocketAddr, pkts: Vec<(usize, Vec<u8>)>| {
        let sock = sock.try_clone().unwrap();
        std::thread::spawn(move || {
            for (i, p) in pkts {
                let at = t0 + Duration::from_millis(20 * i as u64);
                if let Some(w) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(w);
                }
                sock.send_to(&p, to).unwrap();
            }
        })
    };
    let (sa, sb) = (send(&a, eagw_a, a_pkts), send(&b, eagw_b, b_pkts));
    let b2 = b.try_clone().unwrap();
    let rb = std::thread::spawn(move || receive_rtp(&b2, Duration::from_millis(1500)));
    let a2 = a.try_clone().unwrap();
    let ra = std::thread::spawn(move || receive_rtp(&a2, Duration::from_millis(1500)));
    // at 1.6 s: '4' as if from A (to B, as a tone) and '9' as if from B (to A, as events)
    std::thread::sleep((t0 + Duration::from_millis(1600)).saturating_duration_since(Instant::now()));
    let r = play(&mut e, call, "A", "4");
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let r = play(&mut e, call, "B", "9");
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    sa.join().unwrap();
    sb.join().unwrap();
    let (got_a, got_b) = (ra.join().unwrap(), rb.join().unwrap());

    // B: PCMA in timestamp order (gaps as A-law silence), decoded by ffmpeg
    let mut pcma: Vec<_> = got_b.iter().filter(|(h, _)| h.payload_type == 8).collect();
    assert!(pcma.len() > FRAMES * 8 / 10 / 2, "B got {} PCMA packets", pcma.len());
    assert!(got_b.iter().all(|(h, _)| h.payload_type == 8), "B negotiated no telephone-event");
    let t_first = pcma[0].0.timestamp;
    pcma.sort_by_key(|(h, _)| h.timestamp.wrapping_sub(t_first));
    // B's a=ptime:40: two frames per packet, timestamps 320 apart
    assert!(pcma.iter().all(|(_, p)| p.len() == 320), "B asked for 40 ms packets");
    assert!(pcma.windows(2).filter(|w| w[1].0.timestamp.wrapping_sub(w[0].0.timestamp) == 320).count() >= pcma.len() * 9 / 10);
    let mut bytes = vec![];
    for (h, p) in &pcma {
        let at = h.timestamp.wrapping_sub(t_first) as usize;
        if at > bytes.len() {
            bytes.resize(at, 0xd5);
        }
        bytes.truncate(at);
        bytes.extend_from_slice(p);
    }
    let (heard, heard_raw) = (d.join("b_heard.al"), d.join("b_heard.s16"));
    std::fs::write(&heard, &bytes).unwrap();
    ffmpeg(&["-f", "alaw", "-ar", "8000", "-ac", "1", "-i", heard.to_str().unwrap(), "-f", "s16le", heard_raw.to_str().unwrap()]);
    let found = digits_in(&read_raw(&heard_raw));
    println!("B heard {found:?}");
    let keys: String = found.iter().map(|x| x.0).collect();
    assert_eq!(keys, "1#4", "{found:?}");
    // 200 ms events are 10 frames of tone (±1 for frame alignment), play DTMF's 250 ms 13
    assert!((9..=11).contains(&found[0].1) && (9..=11).contains(&found[1].1), "{found:?}");
    assert!((12..=14).contains(&found[2].1), "{found:?}");

    // A: telephone-event PT 101 at 8 kHz, grouped by event timestamp
    let mut events: Vec<(u32, u8, u16, usize, bool)> = vec![]; // ts, event, max duration, ends, marker
    for (h, p) in got_a.iter().filter(|(h, _)| h.payload_type == 101) {
        assert_eq!(p.len(), 4);
        let dur = u16::from_be_bytes([p[2], p[3]]);
        match events.iter_mut().find(|x| x.0 == h.timestamp) {
            Some(x) => {
                assert_eq!(x.1, p[0]);
                x.2 = x.2.max(dur);
                x.3 += (p[1] & 0x80 != 0) as usize;
            }
            None => events.push((h.timestamp, p[0], dur, (p[1] & 0x80 != 0) as usize, h.marker)),
        }
    }
    println!("A got events {events:?}");
    let evs: Vec<u8> = events.iter().map(|x| x.1).collect();
    assert_eq!(evs, vec![9, 7], "{events:?}");
    assert!(events.iter().all(|x| x.3 == 3 && x.4), "each starts marked and ends with 3 end packets: {events:?}");
    // '9' played for 250 ms (13 frames, 2080); '7' sent 300 ms in-band (2400, ±2 frames)
    assert_eq!(events[0].2, 2080, "{events:?}");
    assert!((events[1].2 as i32 - 2400).abs() <= 320, "{events:?}");

    let counts = [e.total_stat("dtmftones"), e.total_stat("dtmfdetected"), e.total_stat("dtmfplayed")];
    assert_eq!(counts, [2, 1, 2], "tones, detected, played");

    // bad requests: clear errors, nothing else harmed
    let r = play(&mut e, call, "A", "4x");
    assert_eq!(s(&r, "result"), "error");
    assert!(s(&r, "error-reason").contains("Invalid DTMF digit"), "{r:?}");
    let r = play(&mut e, "no-such-call", "A", "1");
    assert_eq!(s(&r, "error-reason"), "Unknown call-id");
    let r = play(&mut e, call, "C", "1");
    assert!(s(&r, "error-reason").contains("Unknown from-tag"), "{r:?}");
    // a pass-through call cannot take injected digits
    let r = e.ng(&offer("dtmf-pass", "A", &common::sdp(pa, "")).build());
    assert_eq!(s(&r, "result"), "ok");
    let to_b = s(&r, "sdp");
    let r = e.ng(&answer("dtmf-pass", "A", "B", &common::sdp(pb, "")).build());
    assert_eq!(s(&r, "result"), "ok");
    let eagw_a = media_addr(&s(&r, "sdp"));
    let r = play(&mut e, "dtmf-pass", "A", "1");
    assert!(s(&r, "error-reason").contains("not transcoded"), "{r:?}");
    assert!(to_b.contains("telephone-event"));

    // block DTMF from A on it: A's telephone-event stops at eagw, its audio goes on;
    // unblocked, events pass again
    let block = |e: &mut Eagw, cmd: &str| {
        let r = e.ng(&DictBuilder::new().str("command", cmd).str("call-id", "dtmf-pass").str("from-tag", "A").build());
        assert_eq!(s(&r, "result"), "ok", "{r:?}");
    };
    let burst = |seq0: u16| {
        for k in 0..10u16 {
            a.send_to(&rtp(8, false, seq0 + 2 * k, 160 * k as u32, 0xc, &[0xd5; 160]), eagw_a).unwrap();
            a.send_to(&rtp(101, false, seq0 + 2 * k + 1, 0, 0xc, &[1, 10, 0, (k * 16) as u8]), eagw_a).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        let got = receive_rtp(&b, Duration::from_millis(400));
        let n = |pt: u8| got.iter().filter(|(h, _)| h.payload_type == pt).count();
        (n(8), n(101))
    };
    block(&mut e, "block DTMF");
    assert_eq!(burst(100), (10, 0), "audio relayed, telephone-event blocked");
    assert_eq!(e.total_stat("dtmfblocked"), 10);
    block(&mut e, "unblock DTMF");
    assert_eq!(burst(200), (10, 10));

    // inject DTMF: a call on a codec both share (PCMU) goes through the transcoder (PCMU
    // into PCMU), so a digit played from A reaches B, as events since B has
    // telephone-event, beside A's audio
    let flags = Value::List(vec![Value::str("inject DTMF")]);
    let r = e.ng(&offer("dtmf-inject", "A", &common::sdp(pa, "")).val("flags", flags).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let r = e.ng(&answer("dtmf-inject", "A", "B", &common::sdp(pb, "")).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let eagw_a = media_addr(&s(&r, "sdp"));
    let a2 = a.try_clone().unwrap();
    let talk = std::thread::spawn(move || {
        for k in 0..40u16 {
            a2.send_to(&rtp(0, k == 0, 500 + k, 160 * k as u32, 0xd, &[0xff; 160]), eagw_a).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    let r = play(&mut e, "dtmf-inject", "A", "5");
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let got = receive_rtp(&b, Duration::from_millis(900));
    talk.join().unwrap();
    let audio = got.iter().filter(|(h, _)| h.payload_type == 0).count();
    let fives = got.iter().filter(|(h, p)| h.payload_type == 101 && p.first() == Some(&5)).count();
    let ends = got.iter().filter(|(h, p)| h.payload_type == 101 && p.len() >= 4 && p[1] & 0x80 != 0).count();
    assert!(audio >= 30, "A's audio through the transcoder: {audio} packets");
    assert!(fives >= 10 && ends == 3, "digit 5 as events: {fives} packets, {ends} end packets");
    assert!(e.alive());
    e.terminate();
}
