//! The WebRTC transports: an ICE-lite connectivity check (authenticated and answered, or
//! refused for a wrong password) alone and through a worker's socket table, a DTLS-SRTP
//! handshake (both sides, and each side's share), and an established call set up over the
//! socket table with real ICE and DTLS (SRTP in with the negotiated suite, RTP out).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use eagw::config::{Config, Learning};
use eagw::sdp::Family;
use eagw::session::{Crypt, LearnOpts, MediaSockets, Wiring};
use eagw::stats::WorkerStats;
use eagw::transport::dtls::{parse_fingerprint, Dtls, Identity};
use eagw::transport::ice::{binding_request, is_success_for, Creds, IceLite, Outcome};
use eagw::transport::srtp::Srtp;
use eagw::worker::sockets::SocketTable;
use eagw::worker::sys;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BROWSER_UFRAG: &str = "Brws";

fn creds() -> Creds {
    Creds { ufrag: "eagwUfrg".into(), pwd: "eagwLocalPassword0123456".into() }
}

fn stun(c: &mut Criterion) {
    let p = rtc_crypto::default_provider().unwrap();
    let crypto = p.crypto();
    let local = creds();
    let user = format!("{}:{BROWSER_UFRAG}", local.ufrag);
    let good = binding_request(&user, &local.pwd, true, crypto);
    let bad = binding_request(&user, "wrong-password-0123456789", true, crypto);
    let from: SocketAddr = "192.0.2.1:40000".parse().unwrap();
    let mut ice = IceLite::new(local.clone());
    let mut g = c.benchmark_group("stun");
    // parse, USERNAME, HMAC-SHA1 check, and the success response with its own HMAC and CRC
    g.bench_function("ice_lite_valid_check_answered", |b| {
        b.iter(|| match ice.on_stun(&good, from, 1, crypto) {
            Outcome::Answer { reply, .. } => reply,
            o => panic!("{o:?}"),
        })
    });
    g.bench_function("ice_lite_wrong_password_refused", |b| {
        b.iter(|| match ice.on_stun(&bad, from, 1, crypto) {
            Outcome::Reject { reply, .. } => reply,
            o => panic!("{o:?}"),
        })
    });
    g.finish();
}

fn table(port_min: u16) -> (SocketTable, Arc<Identity>) {
    let toml = eagw::config::DEFAULT_TOML
        .replace("port_min = 30000", &format!("port_min = {port_min}"))
        .replace("port_max = 39999", &format!("port_max = {}", port_min + 999));
    let cfg = Config::from_toml(&toml, "bench").unwrap();
    let id = Arc::new(Identity::generate().unwrap());
    (SocketTable::new(&cfg, 0, 1, id.clone()).unwrap(), id)
}

fn wiring(peer: Option<SocketAddr>, fwd: u32, crypt: Crypt, ice: Option<Creds>) -> Wiring {
    let learn = LearnOpts { mode: if ice.is_some() { Learning::Off } else { Learning::Delayed }, handover: false, asymmetric: false };
    Wiring { peer, learn, fwd_rtp: Some(fwd), fwd_rtcp: Some(fwd), rtcp_only: false, crypt, ice: ice.map(|local| eagw::session::IceSpec { local, full: None }), rtcp_gen: None, transcode: None }
}

/// One datagram from `from` to `to`, handed to the table by hand (no worker loop).
fn deliver(t: &mut SocketTable, h: u32, from: &UdpSocket, to: SocketAddr, pkt: &[u8], buf: &mut [u8], st: &mut WorkerStats) {
    from.send_to(pkt, to).unwrap();
    t.on_readable(h, buf, sys::mono_ns(), st);
}

fn stun_through_socket_table(c: &mut Criterion) {
    let p = rtc_crypto::default_provider().unwrap();
    let (mut t, _) = table(51000);
    let (a, _) = t.open(0, Family::Ip4, false).unwrap();
    let (b, _) = t.open(0, Family::Ip4, false).unwrap();
    let browser = UdpSocket::bind("127.0.0.1:0").unwrap();
    browser.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let other = Identity::generate().unwrap();
    let crypt = Crypt::Dtls { client: false, remote: parse_fingerprint(&other.fingerprint), epoch: 0 };
    let local = creds();
    t.wire(a.handle, wiring(None, b.handle, crypt, Some(local.clone())));
    t.wire(b.handle, wiring(Some("127.0.0.1:9".parse().unwrap()), a.handle, Crypt::Plain, None));
    let user = format!("{}:{BROWSER_UFRAG}", local.ufrag);
    let good = binding_request(&user, &local.pwd, true, p.crypto());
    let bad = binding_request(&user, "wrong-password-0123456789", true, p.crypto());
    let mut buf = vec![0u8; 65536];
    let mut rbuf = [0u8; 2048];
    let mut st = WorkerStats::default();
    let mut g = c.benchmark_group("stun_socket_path");
    // the browser sends a check, the worker answers it, the browser receives the answer
    g.bench_function("valid_check_send_answer_receive", |bch| {
        bch.iter(|| {
            deliver(&mut t, a.handle, &browser, a.bound, &good, &mut buf, &mut st);
            browser.recv(&mut rbuf).unwrap()
        })
    });
    g.bench_function("wrong_password_send_401_receive", |bch| {
        bch.iter(|| {
            deliver(&mut t, a.handle, &browser, a.bound, &bad, &mut buf, &mut st);
            browser.recv(&mut rbuf).unwrap()
        })
    });
    g.finish();
    assert!(st.ice_checks > 0 && st.stun_errors > 0, "{st:?}");
}

/// Sends what one association has queued into the other; the keys if that completed it.
fn pump(src: &mut Dtls, dst: &mut Dtls, now: Instant) -> (bool, Option<eagw::transport::dtls::Keys>) {
    let (mut moved, mut keys) = (false, None);
    while let Some(p) = src.poll_transmit() {
        moved = true;
        if let Ok(Some(k)) = dst.on_packet(&p, now) {
            keys = Some(k);
        }
    }
    (moved, keys)
}

/// One handshake; returns the time spent in the client's and in the server's calls.
fn handshake(ic: &Identity, is: &Identity) -> (Duration, Duration) {
    let (fc, fs) = (parse_fingerprint(&ic.fingerprint).unwrap(), parse_fingerprint(&is.fingerprint).unwrap());
    let now = Instant::now();
    let t = Instant::now();
    let mut client = Dtls::new(ic, true, &fs).unwrap();
    client.start(now);
    let mut tc = t.elapsed();
    let t = Instant::now();
    let mut server = Dtls::new(is, false, &fc).unwrap();
    let mut ts = t.elapsed();
    let (mut kc, mut ks) = (None, None);
    for _ in 0..20 {
        // the server's time: processing the client's datagrams and producing its own
        let t = Instant::now();
        let (m1, k) = pump(&mut client, &mut server, now);
        ts += t.elapsed();
        ks = ks.or(k);
        let t = Instant::now();
        let (m2, k) = pump(&mut server, &mut client, now);
        tc += t.elapsed();
        kc = kc.or(k);
        if !m1 && !m2 {
            break;
        }
    }
    assert!(kc.is_some() && ks.is_some(), "handshake did not complete");
    (tc, ts)
}

fn dtls_handshake(c: &mut Criterion) {
    let (ic, is) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let mut g = c.benchmark_group("dtls_handshake");
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    g.bench_function("both_sides", |b| b.iter(|| handshake(&ic, &is)));
    // each side's share, measured inside the same handshakes
    g.bench_function("client_share", |b| b.iter_custom(|n| (0..n).map(|_| handshake(&ic, &is).0).sum()));
    g.bench_function("server_share", |b| b.iter_custom(|n| (0..n).map(|_| handshake(&ic, &is).1).sum()));
    g.finish();
}

/// What eagw has sent the browser so far (the table answers within `on_readable`).
fn received(sock: &UdpSocket) -> Vec<Vec<u8>> {
    let mut out = vec![];
    let mut buf = [0u8; 2048];
    sock.set_nonblocking(true).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        out.push(buf[..n].to_vec());
    }
    sock.set_nonblocking(false).unwrap();
    out
}

/// An established WebRTC call in a socket table: ICE nominated, DTLS-SRTP done (eagw the
/// server, the suite the handshake picks: AEAD_AES_128_GCM first), SRTP in → RTP out.
fn webrtc_call(c: &mut Criterion) {
    let p = rtc_crypto::default_provider().unwrap();
    let crypto = p.crypto();
    let (mut t, eagw_id) = table(52000);
    let (a, _) = t.open(0, Family::Ip4, false).unwrap();
    let (b, _) = t.open(0, Family::Ip4, false).unwrap();
    let browser = UdpSocket::bind("127.0.0.1:0").unwrap();
    let ims = UdpSocket::bind("127.0.0.1:0").unwrap();
    ims.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let browser_id = Identity::generate().unwrap();
    let local = creds();
    let crypt = Crypt::Dtls { client: false, remote: parse_fingerprint(&browser_id.fingerprint), epoch: 0 };
    t.wire(a.handle, wiring(None, b.handle, crypt, Some(local.clone())));
    t.wire(b.handle, wiring(Some(ims.local_addr().unwrap()), a.handle, Crypt::Plain, None));
    let mut buf = vec![0u8; 65536];
    let mut st = WorkerStats::default();
    // ICE: the browser nominates its address
    let check = binding_request(&format!("{}:{BROWSER_UFRAG}", local.ufrag), &local.pwd, true, crypto);
    deliver(&mut t, a.handle, &browser, a.bound, &check, &mut buf, &mut st);
    let answers = received(&browser);
    assert!(answers.len() == 1 && is_success_for(&answers[0], &local.pwd, crypto));
    // DTLS: the browser is the client; each of its flights goes through the table
    let mut d = Dtls::new(&browser_id, true, &parse_fingerprint(&eagw_id.fingerprint).unwrap()).unwrap();
    d.start(Instant::now());
    let mut keys = None;
    for _ in 0..20 {
        while let Some(p) = d.poll_transmit() {
            deliver(&mut t, a.handle, &browser, a.bound, &p, &mut buf, &mut st);
        }
        for p in received(&browser) {
            keys = keys.or(d.on_packet(&p, Instant::now()).expect("DTLS from eagw"));
        }
        if keys.is_some() {
            break;
        }
    }
    let keys = keys.expect("DTLS handshake through the socket table");
    assert_eq!(st.dtls_handshakes, 1, "{st:?}");
    let suite = keys.tx.suite;
    let mut tx = Srtp::new(keys.tx).unwrap();
    let mut rbuf = [0u8; 2048];
    let mut seq: u16 = 0;
    let mut g = c.benchmark_group("webrtc_call");
    g.bench_function(format!("srtp_in_rtp_out_{}", suite.name()), |bch| {
        bch.iter_batched(
            || {
                seq = seq.wrapping_add(1);
                let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
                p[2..4].copy_from_slice(&seq.to_be_bytes());
                p.extend_from_slice(&[0xd5; 160]);
                tx.protect(&p, false).unwrap()
            },
            |p| {
                deliver(&mut t, a.handle, &browser, a.bound, &p, &mut buf, &mut st);
                ims.recv(&mut rbuf).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    assert!(st.srtp_errors == 0 && st.dtls_errors == 0 && st.packets_relayed > 0, "{st:?}");
}

criterion_group!(benches, stun, stun_through_socket_table, dtls_handshake, webrtc_call);
criterion_main!(benches);
