//! SDES-SRTP towards an IMS leg, with ffmpeg's SRTP implementation as the independent
//! peer: eagw encrypts what ffmpeg decrypts, and decrypts what ffmpeg encrypts. Then bad
//! tags and replays: counted, dropped, never relayed, never latched.

mod common;
use common::*;
use eagw::control::bencode::{DictBuilder, Value};
use eagw::transport::sdes::{format_crypto, parse_crypto, Crypto, SrtpKey, Suite};
use eagw::transport::srtp::Srtp;
use std::time::Duration;

fn savp_sdp(port: u16, crypto: &Crypto) -> String {
    sdp(port, &format!("a={}\r\n", format_crypto(crypto))).replace("RTP/AVP", "RTP/SAVP")
}

#[test]
fn ffmpeg_srtp_peer_both_ways_through_sdes() {
    require_ffmpeg();
    let mut e = Eagw::start(22, "");
    let dir = std::env::temp_dir().join(format!("eagw-srtp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let k_b = Crypto { tag: 1, key: SrtpKey::generate(Suite::AesCm128HmacSha1_80).unwrap() };

    // 1. plain caller (ffmpeg) → eagw encrypts → SRTP callee (ffmpeg decrypts with eagw's key)
    let (tx_port, rx_port) = (free_pair(), free_pair());
    let r = e.ng(&offer("srtp-1", "A", &sdp(tx_port, "")).str("transport-protocol", "RTP/SAVP").build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let offer_sdp = s(&r, "sdp");
    assert!(offer_sdp.contains("m=audio") && offer_sdp.contains("RTP/SAVP"));
    let eagw_crypto = offer_sdp.lines().find(|l| l.starts_with("a=crypto:1 ")).expect("eagw offers a=crypto").trim_start_matches("a=").to_string();
    assert!(parse_crypto(eagw_crypto.trim_start_matches("crypto:")).is_some());
    let r = e.ng(&answer("srtp-1", "A", "B", &savp_sdp(rx_port, &k_b)).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let ans = s(&r, "sdp");
    assert!(ans.contains("RTP/AVP") && !ans.contains("a=crypto"), "the caller stays plain: {ans}");
    let to_a_side = media_addr(&ans);
    let rx = ffmpeg_rx(&dir, "rx1", rx_port, Some(&eagw_crypto));
    std::thread::sleep(Duration::from_millis(700));
    ffmpeg_tx(1000.0, tx_port, to_a_side.port(), None);
    finish_rx(rx, &dir, "rx1", 1000.0, 440.0);
    let r = e.ng(&DictBuilder::new().str("command", "delete").str("call-id", "srtp-1").str("from-tag", "A").build());
    assert_eq!(stream_stats(&r, "A")[0].1, 100);

    // 2. SRTP callee (ffmpeg encrypts with its key) → eagw decrypts → plain caller (ffmpeg)
    let (tx_port, rx_port) = (free_pair(), free_pair());
    let r = e.ng(&offer("srtp-2", "A", &sdp(rx_port, "")).str("transport-protocol", "RTP/SAVP").build());
    let to_b_side = media_addr(&s(&r, "sdp"));
    let r = e.ng(&answer("srtp-2", "A", "B", &savp_sdp(tx_port, &k_b)).build());
    assert_eq!(s(&r, "result"), "ok");
    let rx = ffmpeg_rx(&dir, "rx2", rx_port, None);
    std::thread::sleep(Duration::from_millis(700));
    ffmpeg_tx(440.0, tx_port, to_b_side.port(), Some(&k_b.key));
    finish_rx(rx, &dir, "rx2", 440.0, 1000.0);
    let r = e.ng(&DictBuilder::new().str("command", "query").str("call-id", "srtp-2").build());
    let b = stream_stats(&r, "B");
    assert_eq!((b[0].1, b[0].3), (100, 0), "100 SRTP packets from ffmpeg authenticated, no errors");
    assert_eq!(e.total_stat("srtperrors"), 0);
}

#[test]
fn srtp_bad_tags_and_replays_are_dropped_and_never_latch() {
    let mut e = Eagw::start(23, "");
    let a = peer();
    let b = peer();
    let attacker = peer();
    let k_b = Crypto { tag: 1, key: SrtpKey::generate(Suite::AesCm128HmacSha1_80).unwrap() };
    let r = e.ng(&offer("srtp-bad", "A", &sdp(a.local_addr().unwrap().port(), "")).str("transport-protocol", "RTP/SAVP").build());
    let to_b_side = media_addr(&s(&r, "sdp"));
    let eagw_key = parse_crypto(s(&r, "sdp").lines().find(|l| l.starts_with("a=crypto:1 ")).unwrap().trim_start_matches("a=crypto:")).unwrap();
    let r = e.ng(&answer("srtp-bad", "A", "B", &savp_sdp(b.local_addr().unwrap().port(), &k_b)).build());
    let to_a_side = media_addr(&s(&r, "sdp"));
    let mut tx = Srtp::new(k_b.key.clone()).unwrap();
    let protected: Vec<Vec<u8>> = (1..=5u16).map(|i| tx.protect(&rtp(i, 0xb, b"secret voice"), false).unwrap().to_vec()).collect();

    // an attacker, first: garbage with valid-looking RTP headers, and real packets with a flipped tag bit
    for i in 0..50u16 {
        attacker.send_to(&rtp(i, 0xbad, &[0x42; 30]), to_b_side).unwrap();
        let mut p = protected[0].clone();
        let n = p.len();
        p[n - 1] ^= 0x01;
        attacker.send_to(&p, to_b_side).unwrap();
        b.send_to(&p, to_b_side).unwrap();
    }
    assert!(drain(&a, Duration::from_millis(200)).is_empty(), "unauthenticated SRTP was relayed");
    // the real callee: its packets decrypt and arrive as plain RTP
    for p in &protected {
        b.send_to(p, to_b_side).unwrap();
    }
    let got = drain(&a, Duration::from_millis(200));
    assert_eq!(got.len(), 5);
    assert_eq!(got[2].0, rtp(3, 0xb, b"secret voice"));
    // replays of the same packets: dropped
    for p in &protected {
        b.send_to(p, to_b_side).unwrap();
    }
    assert!(drain(&a, Duration::from_millis(200)).is_empty(), "a replayed packet was relayed");
    assert_eq!(e.total_stat("srtperrors"), 50 * 3 + 5);
    // the attacker never became the callee: media for the callee goes to the callee, encrypted
    a.send_to(&rtp(1, 0xa, b"to callee"), to_a_side).unwrap();
    assert!(drain(&attacker, Duration::from_millis(150)).is_empty());
    let got = drain(&b, Duration::from_millis(150));
    assert_eq!(got.len(), 1);
    assert_ne!(got[0].0, rtp(1, 0xa, b"to callee"), "sent to the SRTP side in clear");
    let mut rx = Srtp::new(eagw_key.key).unwrap();
    assert_eq!(rx.unprotect(&got[0].0, false).unwrap()[..], rtp(1, 0xa, b"to callee")[..]);
    let q = e.ng(&DictBuilder::new().str("command", "query").str("call-id", "srtp-bad").build());
    let streams = q.get("tags").and_then(|t| t.get("B")).and_then(|l| l.get("medias")).and_then(Value::as_list).unwrap()[0].get("streams").and_then(Value::as_list).unwrap().to_vec();
    assert_eq!(s(&streams[0], "crypto suite"), "AES_CM_128_HMAC_SHA1_80");
    let ep = streams[0].get("endpoint").unwrap();
    assert_eq!(ep.get("port").and_then(Value::as_int), Some(b.local_addr().unwrap().port() as i64));
}
