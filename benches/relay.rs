//! The relay path of one RTP packet through a worker's socket table, against a bare
//! recvfrom+sendto relay over the same sockets in the same run, and the per-packet logic
//! (RTP check + endpoint latching) alone.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use eagw::config::{Config, Learning};
use eagw::media::endpoint::Endpoint;
use eagw::media::rtp::classify;
use eagw::sdp::Family;
use eagw::media::rtcp::Rtcp;
use eagw::media::rtp::Kind;
use eagw::session::{Crypt, LearnOpts, MediaSockets, RtcpGen, Wiring};
use eagw::transport::sdes::{Suite, SrtpKey};
use eagw::transport::srtp::Srtp;
use criterion::BatchSize;
use eagw::stats::WorkerStats;
use eagw::worker::sockets::SocketTable;
use eagw::worker::sys;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

fn rtp_packet() -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
    p.extend_from_slice(&[0xd5; 160]);
    p
}

fn relay(c: &mut Criterion) {
    let cfg = Config::from_toml(
        &eagw::config::DEFAULT_TOML.replace("port_min = 30000", "port_min = 50000").replace("port_max = 39999", "port_max = 50999"),
        "bench",
    )
    .unwrap();
    let id = std::sync::Arc::new(eagw::transport::dtls::Identity::generate().unwrap());
    let mut t = SocketTable::new(&cfg, 0, 1, id).unwrap();
    let (a, _) = t.open(0, Family::Ip4, false).unwrap();
    let (b, _) = t.open(0, Family::Ip4, false).unwrap();
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    let callee = UdpSocket::bind("127.0.0.1:0").unwrap();
    let learn = LearnOpts { mode: Learning::Delayed, handover: false, asymmetric: false };
    t.wire(a.handle, Wiring { peer: Some(caller.local_addr().unwrap()), learn, fwd_rtp: Some(b.handle), fwd_rtcp: Some(b.handle), rtcp_only: false, crypt: Crypt::Plain, ice: None, rtcp_gen: None, transcode: None });
    t.wire(b.handle, Wiring { peer: Some(callee.local_addr().unwrap()), learn, fwd_rtp: Some(a.handle), fwd_rtcp: Some(a.handle), rtcp_only: false, crypt: Crypt::Plain, ice: None, rtcp_gen: None, transcode: None });
    let pkt = rtp_packet();
    let mut buf = vec![0u8; 65536];
    let mut rbuf = [0u8; 2048];
    let mut st = WorkerStats::default();
    let mut g = c.benchmark_group("relay_one_packet");
    // each iteration: the caller sends, the worker relays, the callee receives
    g.bench_function("eagw_worker", |bch| {
        bch.iter(|| {
            caller.send_to(&pkt, a.bound).unwrap();
            t.on_readable(a.handle, &mut buf, sys::mono_ns(), &mut st);
            callee.recv(&mut rbuf).unwrap()
        })
    });
    // the floor over the same kind of sockets: one recvfrom, one sendto, nothing else
    let ra = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rb = UdpSocket::bind("127.0.0.1:0").unwrap();
    ra.set_nonblocking(true).unwrap();
    let dst = callee.local_addr().unwrap();
    g.bench_function("bare_recvfrom_sendto", |bch| {
        bch.iter(|| {
            caller.send_to(&pkt, ra.local_addr().unwrap()).unwrap();
            let (n, _) = sys::recv_from(ra.as_raw_fd(), &mut buf).unwrap().unwrap();
            sys::send_to(rb.as_raw_fd(), &buf[..n], &dst).unwrap();
            callee.recv(&mut rbuf).unwrap()
        })
    });
    // SRTP in (authenticated, replay-checked) → plain RTP out: AES_CM_128_HMAC_SHA1_80 as
    // SDES offers it, and AEAD_AES_128_GCM, the suite DTLS-SRTP negotiates with browsers
    for (suite, name) in [(Suite::AesCm128HmacSha1_80, "eagw_worker_srtp_in_rtp_out"), (Suite::AeadAes128Gcm, "eagw_worker_srtp_gcm_in_rtp_out")] {
        let key = SrtpKey::generate(suite).unwrap();
        let (sp, _) = t.open(0, Family::Ip4, false).unwrap();
        let (d, _) = t.open(0, Family::Ip4, false).unwrap();
        let srtp_peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        t.wire(sp.handle, Wiring { peer: Some(srtp_peer.local_addr().unwrap()), learn, fwd_rtp: Some(d.handle), fwd_rtcp: Some(d.handle), rtcp_only: false, crypt: Crypt::Srtp { rx: Some(key.clone()), tx: Some(key.clone()) }, ice: None, rtcp_gen: None, transcode: None });
        t.wire(d.handle, Wiring { peer: Some(callee.local_addr().unwrap()), learn, fwd_rtp: Some(sp.handle), fwd_rtcp: Some(sp.handle), rtcp_only: false, crypt: Crypt::Plain, ice: None, rtcp_gen: None, transcode: None });
        let mut tx = Srtp::new(key).unwrap();
        let mut seq: u16 = 0;
        g.bench_function(name, |bch| {
            bch.iter_batched(
                || {
                    seq = seq.wrapping_add(1);
                    let mut p = rtp_packet();
                    p[2..4].copy_from_slice(&seq.to_be_bytes());
                    tx.protect(&p, false).unwrap()
                },
                |p| {
                    srtp_peer.send_to(&p, sp.bound).unwrap();
                    t.on_readable(sp.handle, &mut buf, sys::mono_ns(), &mut st);
                    callee.recv(&mut rbuf).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
    // generate-RTCP on both legs: the same relay plus the statistics of both sides
    let (ga, _) = t.open(0, Family::Ip4, false).unwrap();
    let (gb, _) = t.open(0, Family::Ip4, false).unwrap();
    let gen = |h: u32| Some(RtcpGen::Report { out: h, clocks: vec![(0, 8000)] });
    t.wire(ga.handle, Wiring { peer: Some(caller.local_addr().unwrap()), learn, fwd_rtp: Some(gb.handle), fwd_rtcp: Some(gb.handle), rtcp_only: false, crypt: Crypt::Plain, ice: None, rtcp_gen: gen(ga.handle), transcode: None });
    t.wire(gb.handle, Wiring { peer: Some(callee.local_addr().unwrap()), learn, fwd_rtp: Some(ga.handle), fwd_rtcp: Some(ga.handle), rtcp_only: false, crypt: Crypt::Plain, ice: None, rtcp_gen: gen(gb.handle), transcode: None });
    let mut seq: u16 = 0;
    let mut gpkt = rtp_packet();
    g.bench_function("eagw_worker_generate_rtcp", |bch| {
        bch.iter(|| {
            seq = seq.wrapping_add(1);
            gpkt[2..4].copy_from_slice(&seq.to_be_bytes());
            caller.send_to(&gpkt, ga.bound).unwrap();
            t.on_readable(ga.handle, &mut buf, sys::mono_ns(), &mut st);
            callee.recv(&mut rbuf).unwrap()
        })
    });
    g.finish();
    // (nothing relayed when a filter skipped these benches)
    assert!(st.foreign == 0 && st.junk == 0 && st.srtp_errors == 0, "{st:?}");

    // the per-packet decision alone (no syscalls)
    let mut ep = Endpoint::new(Learning::Delayed, 3_000_000_000);
    let from = caller.local_addr().unwrap();
    ep.set_sdp(Some(from));
    c.bench_function("packet_check_classify_and_latch", |bch| {
        bch.iter(|| {
            let k = classify(black_box(&pkt));
            (k, ep.on_packet(black_box(from), 1))
        })
    });
}

/// SRTP protect + unprotect of one 172-byte RTP packet: rtc-srtp (a fresh buffer per
/// packet, SSRC map, heap bit-vector window) against our in-place transform, with one
/// context pair and with 600 pairs used in turn (as 300 calls do: cipher state out of cache).
fn srtp_transform(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp_protect_unprotect");
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AeadAes128Gcm] {
        for contexts in [1usize, 600] {
            let keys: Vec<SrtpKey> = (0..contexts).map(|_| SrtpKey::generate(suite).unwrap()).collect();
            let mut pairs: Vec<(Srtp, Srtp)> = keys.iter().map(|k| (Srtp::new(k.clone()).unwrap(), Srtp::new(k.clone()).unwrap())).collect();
            let mut seq: u16 = 0;
            let mut i = 0;
            let tmpl = rtp_packet();
            let mut p = tmpl.clone();
            g.bench_function(format!("rtc_srtp_{}_{contexts}ctx", suite.name()), |bch| {
                bch.iter(|| {
                    i = (i + 1) % contexts;
                    seq = seq.wrapping_add(1);
                    p.copy_from_slice(&tmpl);
                    p[2..4].copy_from_slice(&seq.to_be_bytes());
                    let (tx, rx) = &mut pairs[i];
                    let enc = tx.protect(&p, false).unwrap();
                    rx.unprotect(&enc, false).unwrap().len()
                })
            });
            let mut pairs: Vec<(Srtp, Srtp)> = keys.iter().map(|k| (Srtp::new(k.clone()).unwrap(), Srtp::new(k.clone()).unwrap())).collect();
            let mut buf = vec![0u8; 2048];
            g.bench_function(format!("eagw_in_place_{}_{contexts}ctx", suite.name()), |bch| {
                bch.iter(|| {
                    i = (i + 1) % contexts;
                    seq = seq.wrapping_add(1);
                    buf[..tmpl.len()].copy_from_slice(&tmpl);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    let (tx, rx) = &mut pairs[i];
                    let n = tx.protect_rtp(&mut buf, tmpl.len()).unwrap();
                    rx.unprotect_rtp(&mut buf[..n]).unwrap()
                })
            });
        }
    }
    g.finish();
}

/// generate-RTCP's per-packet work alone: receiver statistics (A.1 sequence, A.8 jitter)
/// of a packet received and sender counts of a packet sent.
fn rtcp_stats(c: &mut Criterion) {
    let mut r = Rtcp::new(1, 5_000_000_000, 0);
    r.set_clocks(&[(0, 8000)]);
    let Kind::Rtp(mut h) = classify(&rtp_packet()) else { panic!() };
    let mut now = 0u64;
    c.bench_function("rtcp_stats_update_rx_and_tx", |bch| {
        bch.iter(|| {
            h.sequence = h.sequence.wrapping_add(1);
            h.timestamp = h.timestamp.wrapping_add(160);
            now += 20_000_000;
            r.on_rtp_received(black_box(&h), now);
            r.on_rtp_sent(black_box(&h), 160, now);
        })
    });
    black_box(r.sources[0].received);
}

criterion_group!(benches, relay, srtp_transform, rtcp_stats);
criterion_main!(benches);
