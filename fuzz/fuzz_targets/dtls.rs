#![no_main]
//! DTLS-SRTP (`Dtls`) against what an attacker can send: never panics, and keys come only
//! out of a real handshake, equal on both sides.
//!
//! Input: a mode byte, then
//! - mode even: datagrams as `[len_hi, len_lo, bytes...]`, each fed to a server-role
//!   association and to a client-role one that has sent its ClientHello (with a clock
//!   that moves a second per datagram, so retransmissions and the timeout run too): no
//!   keys, never connected;
//! - mode odd: a real handshake between a client and a server in which datagram number
//!   `k` (`input[0]`) is tampered with: `input[1..3]` an offset, the rest XORed in there
//!   (nothing to XOR: cut the datagram there); keys that come out on both sides match.
use eagw::transport::dtls::{parse_fingerprint, Dtls, Fingerprint, Identity, State};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

struct Ids {
    client: Identity,
    server: Identity,
    fp_client: Fingerprint,
    fp_server: Fingerprint,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let (client, server) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let fp_client = parse_fingerprint(&client.fingerprint).unwrap();
        let fp_server = parse_fingerprint(&server.fingerprint).unwrap();
        Ids { client, server, fp_client, fp_server }
    })
}

fn garbage(data: &[u8]) {
    let id = ids();
    let t0 = Instant::now();
    let mut server = Dtls::new(&id.server, false, &id.fp_client).unwrap();
    let mut client = Dtls::new(&id.client, true, &id.fp_server).unwrap();
    client.start(t0);
    while client.poll_transmit().is_some() {}
    let mut rest = data;
    let mut i = 0;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let pkt = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[2 + pkt.len()..];
        i += 1;
        let now = t0 + Duration::from_secs(i);
        for d in [&mut server, &mut client] {
            if d.next_timeout().is_some_and(|t| t <= now) {
                d.on_timeout(now);
            }
            assert!(!matches!(d.on_packet(pkt, now), Ok(Some(_))), "keys out of garbage");
            assert!(!matches!(d.state, State::Connected { .. }), "connected on garbage");
            while d.poll_transmit().is_some() {}
        }
    }
}

fn tampered(data: &[u8]) {
    let Some((&k, rest)) = data.split_first() else { return };
    let off = rest.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
    let mask = rest.get(2..).unwrap_or(&[]);
    let id = ids();
    let now = Instant::now();
    let mut client = Dtls::new(&id.client, true, &id.fp_server).unwrap();
    let mut server = Dtls::new(&id.server, false, &id.fp_client).unwrap();
    client.start(now);
    let (mut kc, mut ks) = (None, None);
    let mut n = 0u8;
    for _ in 0..20 {
        let mut moved = false;
        for from_client in [true, false] {
            let (src, dst, keys) = if from_client { (&mut client, &mut server, &mut ks) } else { (&mut server, &mut client, &mut kc) };
            while let Some(p) = src.poll_transmit() {
                moved = true;
                let mut p = p.to_vec();
                if n == k {
                    if mask.is_empty() {
                        p.truncate(off);
                    }
                    for (b, m) in p.iter_mut().skip(off).zip(mask) {
                        *b ^= m;
                    }
                }
                n = n.wrapping_add(1);
                if let Ok(Some(got)) = dst.on_packet(&p, now) {
                    assert!(keys.is_none(), "keys exported twice");
                    *keys = Some(got);
                }
            }
        }
        if !moved {
            break;
        }
    }
    if let (Some(c), Some(s)) = (&kc, &ks) {
        assert!(c.tx == s.rx && c.rx == s.tx, "the two sides derived different keys");
    }
    for (d, k) in [(&client, &kc), (&server, &ks)] {
        assert!(k.is_some() || !matches!(d.state, State::Connected { .. }), "connected without keys");
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((m, rest)) if m & 1 == 0 => garbage(rest),
        Some((_, rest)) => tampered(rest),
        None => {}
    }
});
