//! ffmpeg, an independent RTP implementation, as sender and receiver through eagw: a
//! PCMU tone made by ffmpeg's lavfi is sent with ffmpeg's RTP muxer to eagw, relayed,
//! and received and decoded by a second ffmpeg from an SDP file. Both directions.

mod common;
use common::*;
use eagw::control::bencode::DictBuilder;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A free even port whose odd neighbour is free too (ffmpeg binds RTP and RTCP).
fn free_pair() -> u16 {
    for _ in 0..100 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = s.local_addr().unwrap().port() & !1;
        drop(s);
        if p > 1024 && std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// Power of `freq` in 8 kHz samples (Goertzel).
fn goertzel(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = v as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2
}

#[test]
fn ffmpeg_sends_and_receives_rtp_through_eagw_both_ways() {
    assert!(Command::new("ffmpeg").arg("-version").output().map(|o| o.status.success()).unwrap_or(false), "ffmpeg missing: make test installs it");
    let mut e = Eagw::start(21, "");
    let dir = std::env::temp_dir().join(format!("eagw-ffmpeg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // caller → callee with a 1 kHz tone, then callee → caller with 440 Hz
    for (n, (freq, other)) in [(1000.0, 440.0), (440.0, 1000.0)].into_iter().enumerate() {
        let call = format!("ffmpeg-{n}");
        let (tx_port, rx_port) = (free_pair(), free_pair());
        // the sender's SDP names its own port, so eagw latches on it at once
        let (offerer, answerer) = if n == 0 { (tx_port, rx_port) } else { (rx_port, tx_port) };
        let r = e.ng(&offer(&call, "A", &sdp(offerer, "")).build());
        let to_b_side = media_addr(&s(&r, "sdp"));
        let r = e.ng(&answer(&call, "A", "B", &sdp(answerer, "")).build());
        let to_a_side = media_addr(&s(&r, "sdp"));
        let send_to = if n == 0 { to_a_side } else { to_b_side };

        let rx_sdp = dir.join(format!("rx{n}.sdp"));
        std::fs::write(&rx_sdp, format!("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=rx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rx_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")).unwrap();
        let raw = dir.join(format!("rx{n}.raw"));
        let rx = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file,udp,rtp", "-analyzeduration", "100000", "-i"])
            .arg(&rx_sdp)
            .args(["-t", "1.95", "-f", "s16le", "-ar", "8000", "-ac", "1"])
            .arg(&raw)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let tx = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i"])
            .arg(format!("sine=frequency={freq}:duration=2:sample_rate=8000:samples_per_frame=160"))
            .args(["-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-f", "rtp"])
            .arg(format!("rtp://127.0.0.1:{}?localport={tx_port}", send_to.port()))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(tx.status.success(), "ffmpeg sender: {}", String::from_utf8_lossy(&tx.stderr));
        // the receiver stops by itself after 1.95 s of audio; a SIGINT if it hangs
        let mut rx = rx;
        for _ in 0..30 {
            if rx.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if rx.try_wait().unwrap().is_none() {
            unsafe { libc::kill(rx.id() as i32, libc::SIGINT) };
        }
        let out = rx.wait_with_output().unwrap();
        let pcm: Vec<i16> = std::fs::read(&raw)
            .unwrap_or_else(|_| panic!("ffmpeg receiver wrote nothing: {}", String::from_utf8_lossy(&out.stderr)))
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert!(pcm.len() >= 15_000, "callee decoded {} samples of 16000", pcm.len());
        let (want, not) = (goertzel(&pcm, freq), goertzel(&pcm, other));
        assert!(want > 1000.0 * not, "the received tone is {freq} Hz: {want:e} vs {not:e}");

        let r = e.ng(&DictBuilder::new().str("command", "delete").str("call-id", &call).str("from-tag", "A").build());
        let sender_tag = if n == 0 { "A" } else { "B" };
        let st = stream_stats(&r, sender_tag);
        assert_eq!(st[0].1, 100, "eagw counted ffmpeg's 100 packets (2 s at 20 ms)");
        assert_eq!(st[0].2, 100 * 172, "of 172 bytes each");
        assert_eq!(st[0].3, 0, "no errors");
        assert_eq!(totals(&r, "RTP", "packets"), 100, "nothing from anywhere else");
    }
}
