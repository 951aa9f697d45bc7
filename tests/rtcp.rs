//! `generate-RTCP`: two plain RTP peers over loopback through eagw. eagw consumes their
//! RTCP and sends each its own SR/RR; what it reports is checked against what the peers
//! sent (packets dropped on purpose), and read with an independent parser (webrtc-rs's
//! `rtc-rtcp`). Without the flag RTCP is relayed as before.

mod common;
use common::*;
use eagw::control::bencode::{DictBuilder, Value};
use eagw::transport::sdes::{format_crypto, parse_crypto, Crypto, SrtpKey, Suite};
use eagw::transport::srtp::Srtp;
use rtc_rtcp::compound_packet::CompoundPacket;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const CFG: &str = "[media]\nrtcp_interval_ms = 500\n";
const SSRC_A: u32 = 0xa1a1_a1a1;
const SSRC_B: u32 = 0xb2b2_b2b2;

fn rtp_from(seq: u16, ssrc: u32) -> Vec<u8> {
    rtp(seq, ssrc, &[0xd5; 160])
}

/// A peer's own SR (NTP `ntp`), 28 bytes, no blocks.
fn peer_sr(ssrc: u32, ntp: u64) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&ntp.to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p
}

/// A peer's RR with one block about `about` (LSR `lsr`, DLSR 0).
fn peer_rr(ssrc: u32, about: u32, lsr: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&about.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    p.extend_from_slice(&lsr.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p
}

/// What eagw sent: (SR, or RR with its sender SSRC) and the report blocks.
#[derive(Debug)]
struct Report {
    sr: Option<SenderReport>,
    ssrc: u32,
    blocks: Vec<ReceptionReport>,
}

/// Parses one datagram with rtc-rtcp and checks the RFC 3550 compound rules.
fn parse_report(p: &[u8]) -> Option<Report> {
    if p.len() < 2 || !(200..=201).contains(&p[1]) {
        return None;
    }
    let mut raw = p;
    let c = CompoundPacket(rtc_rtcp::packet::unmarshal(&mut raw).unwrap_or_else(|e| panic!("rtc-rtcp: {e}: {p:02x?}")));
    c.validate().unwrap_or_else(|e| panic!("not an RFC 3550 compound packet: {e}"));
    assert!(!c.cname().unwrap().is_empty());
    if let Some(sr) = c.0[0].as_any().downcast_ref::<SenderReport>() {
        return Some(Report { sr: Some(sr.clone()), ssrc: sr.ssrc, blocks: sr.reports.clone() });
    }
    let rr = c.0[0].as_any().downcast_ref::<ReceiverReport>().unwrap();
    Some(Report { sr: None, ssrc: rr.ssrc, blocks: rr.reports.clone() })
}

/// The `a=rtcp:` port of an SDP (eagw writes one when RTCP is not muxed).
fn rtcp_port(sdp: &str) -> Option<u16> {
    sdp.lines().find_map(|l| l.strip_prefix("a=rtcp:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Receives for `d`; returns every datagram.
fn collect(s: &UdpSocket, d: Duration) -> Vec<Vec<u8>> {
    let t0 = Instant::now();
    let mut out = vec![];
    let mut buf = [0u8; 2048];
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    while t0.elapsed() < d {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            out.push(buf[..n].to_vec());
        }
    }
    out
}

/// Everything queued on `s` (until 100 ms pass quietly).
fn queued(s: &UdpSocket) -> Vec<Vec<u8>> {
    drain(s, Duration::from_millis(100)).into_iter().map(|(p, _)| p).collect()
}

fn is_rtcp(p: &[u8]) -> bool {
    p.len() >= 2 && (192..=223).contains(&p[1])
}

/// A (rtcp-mux, one socket) ↔ eagw ↔ B (separate RTP and RTCP sockets).
struct Setup {
    a: UdpSocket,
    b: UdpSocket,
    b_rtcp: UdpSocket,
    /// eagw's ports: A's side (muxed), B's RTP and RTCP.
    to_a: SocketAddr,
    to_b: SocketAddr,
    to_b_rtcp: SocketAddr,
}

fn setup(e: &mut Eagw, id: &str, flags: &[&str]) -> Setup {
    let a = peer();
    let port = free_pair();
    let b = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let b_rtcp = UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    let flags = Value::List(flags.iter().map(|f| Value::str(*f)).collect());
    let r = e.ng(&offer(id, "A", &sdp(a.local_addr().unwrap().port(), "a=rtcp-mux\r\n")).val("flags", flags.clone()).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let osdp = s(&r, "sdp");
    let to_b = media_addr(&osdp);
    let r = e.ng(&answer(id, "A", "B", &sdp(port, "")).val("flags", flags).val("rtcp-mux", Value::List(vec![Value::str("accept")])).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let asdp = s(&r, "sdp");
    assert!(asdp.contains("a=rtcp-mux"), "A keeps rtcp-mux: {asdp}");
    let to_a = media_addr(&asdp);
    // B's RTCP port: eagw offered it in a=rtcp (or RTP + 1)
    let to_b_rtcp = SocketAddr::new(to_b.ip(), rtcp_port(&osdp).unwrap_or(to_b.port() + 1));
    Setup { a, b, b_rtcp, to_a, to_b, to_b_rtcp }
}

fn query(e: &mut Eagw, id: &str) -> Value {
    e.ng(&DictBuilder::new().str("command", "query").str("call-id", id).build())
}

/// The `generated RTCP` dict of a leg's RTP stream.
fn generated(q: &Value, tag: &str) -> Value {
    let leg = q.get("tags").and_then(|t| t.get(tag)).unwrap();
    let m = &leg.get("medias").and_then(Value::as_list).unwrap()[0];
    let st = &m.get("streams").and_then(Value::as_list).unwrap()[0];
    st.get("generated RTCP").unwrap_or_else(|| panic!("no generated RTCP in {st:?}")).clone()
}

fn int(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_int).unwrap_or_else(|| panic!("no {k} in {v:?}"))
}

#[test]
fn generated_rtcp_reports_loss_counts_and_consumes_the_peers_rtcp() {
    let mut e = Eagw::start(40, CFG);
    let c = setup(&mut e, "gen-1", &["generate-RTCP"]);
    // the peers' own RTCP first: A (muxed) an SR, B on its RTCP port an RR. eagw reads them
    let a_sr = peer_sr(SSRC_A, 0x0000_0001_2345_6789_u64 << 8);
    c.a.send_to(&a_sr, c.to_a).unwrap();
    let b_rr = peer_rr(SSRC_B, 0x1234, 0);
    c.b_rtcp.send_to(&b_rr, c.to_b_rtcp).unwrap();
    // A sends seq 1..=100 without 11..=15 (5 lost on purpose) and 60..=61 swapped; B sends 1..=50
    let mut a_seqs: Vec<u16> = (1..=100).filter(|s| !(11..=15).contains(s)).collect();
    let i = a_seqs.iter().position(|&s| s == 60).unwrap();
    a_seqs.swap(i, i + 1);
    for (n, &seq) in a_seqs.iter().enumerate() {
        c.a.send_to(&rtp_from(seq, SSRC_A), c.to_a).unwrap();
        if n < 50 {
            c.b.send_to(&rtp_from(n as u16 + 1, SSRC_B), c.to_b).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    // at least one full report interval (500 ms + up to 1 s) after the media
    let at_a = collect(&c.a, Duration::from_millis(1700));
    let at_b_rtp = queued(&c.b);
    let at_b = queued(&c.b_rtcp);

    // B: 95 RTP packets relayed, and on its RTCP port only eagw's reports
    assert_eq!(at_b_rtp.iter().filter(|p| !is_rtcp(p)).count(), 95);
    assert!(!at_b.is_empty(), "no RTCP from eagw at B");
    assert!(!at_b.iter().any(|p| p == &a_sr), "A's SR was relayed to B");
    let reports: Vec<Report> = at_b.iter().map(|p| parse_report(p).expect("eagw's RTCP is an SR or RR")).collect();
    let last = reports.last().unwrap();
    // the SR describes the stream eagw forwards to B: A's SSRC, what eagw sent B (the
    // reports after the media are RRs under the same SSRC)
    let sr = reports.iter().rev().find_map(|r| r.sr.as_ref()).expect("eagw sent RTP to B: an SR");
    assert_eq!((last.ssrc, sr.ssrc), (SSRC_A, SSRC_A));
    assert_eq!((sr.packet_count, sr.octet_count), (95, 95 * 160));
    // one block, about what B sends: nothing lost, highest 50
    assert_eq!(last.blocks.len(), 1);
    let bl = &last.blocks[0];
    assert_eq!((bl.ssrc, bl.total_lost, bl.last_sequence_number), (SSRC_B, 0, 50));

    // A: B's 50 packets, none of B's own RTCP, and eagw's reports
    assert_eq!(at_a.iter().filter(|p| !is_rtcp(p)).count(), 50);
    assert!(!at_a.iter().any(|p| p == &b_rr), "B's RR was relayed to A");
    let reports: Vec<Report> = at_a.iter().filter(|p| is_rtcp(p)).map(|p| parse_report(p).unwrap()).collect();
    let last = reports.last().expect("no RTCP from eagw at A");
    let sr = reports.iter().rev().find_map(|r| r.sr.as_ref()).expect("an SR to A");
    assert_eq!((sr.ssrc, sr.packet_count, sr.octet_count), (SSRC_B, 50, 50 * 160));
    let bl = &last.blocks[0];
    // 5 lost; the late packet 60 is not a loss; highest 100
    assert_eq!((bl.ssrc, bl.total_lost, bl.last_sequence_number), (SSRC_A, 5, 100));
    // LSR: the middle 32 bits of A's SR, with the delay since it arrived
    assert_eq!(bl.last_sender_report, ((0x0000_0001_2345_6789_u64 << 8) >> 16) as u32);
    assert!(bl.delay > 0);

    // A answers eagw's SR with an RR about it: eagw computes an RTT
    c.a.send_to(&peer_rr(SSRC_A, SSRC_B, (sr.ntp_time >> 16) as u32), c.to_a).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let q = query(&mut e, "gen-1");
    let ga = generated(&q, "A");
    assert_eq!((int(&ga, "lost"), int(&ga, "highest seq"), int(&ga, "SRs received")), (5, 100, 1));
    assert!(int(&ga, "RRs received") >= 1 && int(&ga, "reports sent") >= 1);
    let rtt = int(&ga, "RTT us");
    assert!((0..10_000_000).contains(&rtt), "RTT {rtt} µs");
    let gb = generated(&q, "B");
    assert_eq!((int(&gb, "lost"), int(&gb, "highest seq")), (0, 50));
    let st = e.statistics();
    let tot = st.get("totalstatistics").unwrap();
    assert!(int(tot, "rtcpgenerated") >= 2);
    assert_eq!(int(tot, "rtcpconsumed"), 3);
    assert_eq!(int(tot, "rtcperrors"), 0);

    // garbage that looks like RTCP: counted, dropped, nothing else lost
    c.a.send_to(&[0x81, 201, 0, 0, 0, 0, 0, 1], c.to_a).unwrap();
    c.a.send_to(&rtp_from(101, SSRC_A), c.to_a).unwrap();
    assert_eq!(drain(&c.b, Duration::from_millis(200)).len(), 1);
    let tot = e.statistics().get("totalstatistics").unwrap().clone();
    assert_eq!(int(&tot, "rtcperrors"), 1);
    assert!(e.alive());
}

#[test]
fn without_the_flag_rtcp_is_relayed_and_nothing_generated() {
    let mut e = Eagw::start(41, CFG);
    let c = setup(&mut e, "gen-off", &[]);
    for seq in 1..=20u16 {
        c.a.send_to(&rtp_from(seq, SSRC_A), c.to_a).unwrap();
        c.b.send_to(&rtp_from(seq, SSRC_B), c.to_b).unwrap();
    }
    let a_sr = peer_sr(SSRC_A, 5 << 32);
    c.a.send_to(&a_sr, c.to_a).unwrap();
    let b_rr = peer_rr(SSRC_B, SSRC_A, 0);
    c.b_rtcp.send_to(&b_rr, c.to_b_rtcp).unwrap();
    let at_a = collect(&c.a, Duration::from_millis(1700));
    let at_b = queued(&c.b_rtcp);
    assert_eq!(at_b, vec![a_sr], "A's SR relayed to B's RTCP port, and nothing else");
    let rtcp_at_a: Vec<&Vec<u8>> = at_a.iter().filter(|p| is_rtcp(p)).collect();
    assert_eq!(rtcp_at_a, vec![&b_rr], "B's RR relayed to A (muxed), and nothing else");
    let q = query(&mut e, "gen-off");
    let leg = q.get("tags").and_then(|t| t.get("A")).unwrap();
    let st = &leg.get("medias").and_then(Value::as_list).unwrap()[0].get("streams").and_then(Value::as_list).unwrap()[0];
    assert!(st.get("generated RTCP").is_none());
    assert_eq!(int(e.statistics().get("totalstatistics").unwrap(), "rtcpgenerated"), 0);
}

#[test]
fn generated_rtcp_is_srtcp_towards_an_sdes_leg() {
    let mut e = Eagw::start(42, CFG);
    let a = peer();
    let b = peer();
    let k_b = Crypto { tag: 1, key: SrtpKey::generate(Suite::AesCm128HmacSha1_80).unwrap() };
    let flags = || Value::List(vec![Value::str("generate-RTCP")]);
    let r = e.ng(&offer("gen-srtp", "A", &sdp(a.local_addr().unwrap().port(), "a=rtcp-mux\r\n")).str("transport-protocol", "RTP/SAVP").val("flags", flags()).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let osdp = s(&r, "sdp");
    let to_b = media_addr(&osdp);
    let eagw_key = parse_crypto(osdp.lines().find(|l| l.starts_with("a=crypto:1 ")).unwrap().trim_start_matches("a=crypto:")).unwrap();
    let bsdp = sdp(b.local_addr().unwrap().port(), &format!("a=rtcp-mux\r\na={}\r\n", format_crypto(&k_b))).replace("RTP/AVP", "RTP/SAVP");
    let r = e.ng(&answer("gen-srtp", "A", "B", &bsdp).val("flags", flags()).build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let to_a = media_addr(&s(&r, "sdp"));
    let mut b_tx = Srtp::new(k_b.key.clone()).unwrap();
    let mut b_rx = Srtp::new(eagw_key.key).unwrap();
    // B's own SRTCP: authenticated and consumed; a forged one: an SRTP error
    let b_sr = b_tx.protect(&peer_sr(SSRC_B, 7 << 32), true).unwrap().to_vec();
    b.send_to(&b_sr, to_b).unwrap();
    let mut forged = b_sr.clone();
    let n = forged.len();
    forged[n - 1] ^= 1;
    b.send_to(&forged, to_b).unwrap();
    for seq in 1..=30u16 {
        a.send_to(&rtp_from(seq, SSRC_A), to_a).unwrap();
        if seq != 10 {
            b.send_to(&b_tx.protect(&rtp_from(seq, SSRC_B), false).unwrap(), to_b).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let at_b = collect(&b, Duration::from_millis(1700));
    // A gets eagw's reports only (each a compound with a CNAME), never B's SR
    let at_a = queued(&a);
    assert!(at_a.iter().filter(|p| is_rtcp(p)).all(|p| parse_report(p).is_some()));
    assert_eq!(at_a.iter().filter(|p| !is_rtcp(p)).count(), 29);
    let mut srs = 0;
    let mut last = None;
    for p in at_b.iter().filter(|p| is_rtcp(p)) {
        let plain = b_rx.unprotect(p, true).expect("SRTCP with eagw's key");
        let r = parse_report(&plain).unwrap();
        srs += r.sr.is_some() as usize;
        last = Some(r);
    }
    let last = last.expect("no SRTCP from eagw at B");
    assert!(srs >= 1);
    assert_eq!(last.ssrc, SSRC_A);
    assert_eq!((last.blocks[0].ssrc, last.blocks[0].total_lost, last.blocks[0].last_sequence_number), (SSRC_B, 1, 30));
    assert_eq!(last.blocks[0].last_sender_report, ((7u64 << 32) >> 16) as u32);
    let tot = e.statistics().get("totalstatistics").unwrap().clone();
    assert_eq!(int(&tot, "rtcpconsumed"), 1);
    assert_eq!(int(&tot, "srtperrors"), 1);
}
