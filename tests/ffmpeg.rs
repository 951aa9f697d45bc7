//! ffmpeg, an independent RTP implementation, as sender and receiver through eagw: a
//! PCMU tone made by ffmpeg's lavfi is sent with ffmpeg's RTP muxer to eagw, relayed,
//! and received and decoded by a second ffmpeg from an SDP file. Both directions.

mod common;
use common::*;
use eagw::control::bencode::DictBuilder;
use std::time::Duration;

#[test]
fn ffmpeg_sends_and_receives_rtp_through_eagw_both_ways() {
    require_ffmpeg();
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

        let name = format!("rx{n}");
        let rx = ffmpeg_rx(&dir, &name, rx_port, None);
        std::thread::sleep(Duration::from_millis(700));
        ffmpeg_tx(freq, tx_port, send_to.port(), None);
        finish_rx(rx, &dir, &name, freq, other);

        let r = e.ng(&DictBuilder::new().str("command", "delete").str("call-id", &call).str("from-tag", "A").build());
        let sender_tag = if n == 0 { "A" } else { "B" };
        let st = stream_stats(&r, sender_tag);
        assert_eq!(st[0].1, 100, "eagw counted ffmpeg's 100 packets (2 s at 20 ms)");
        assert_eq!(st[0].2, 100 * 172, "of 172 bytes each");
        assert_eq!(st[0].3, 0, "no errors");
        assert_eq!(totals(&r, "RTP", "packets"), 100, "nothing from anywhere else");
    }
}
