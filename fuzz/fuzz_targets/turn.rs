#![no_main]
//! The TURN core (`turn::server::TurnServer`) fed client messages, peer datagrams and time:
//! it never panics, every slice it asks to send lies inside the buffer, data goes only out
//! of relay sockets that are open and only to peers the policy allows (203.0.113.0/24
//! here; loopback and the rest of the private space are denied), and when every
//! allocation has expired every relay socket is closed and the quota ledger is empty.
//!
//! Input: records `[head, len, payload...]`. `head & 3` picks one of 4 clients;
//! `head >> 2 & 7` the kind: 0 the payload as a client message; 1 as a peer datagram on
//! relay `payload[0] % 4 + 1` from a peer chosen by `payload[1]`; 2..=5 a signed Allocate,
//! CreatePermission, ChannelBind, Refresh (peer, channel and lifetime from the payload;
//! signed with the right key when `payload[0] & 1`, with the nonce last received); 6 a
//! ChannelData or Send indication with the payload; 7 time passes (`payload[0]` seconds).
use eagw::turn::auth::{long_term_key, Credentials};
use eagw::turn::client::{self, Auth, Req};
use eagw::turn::policy::{Net, PeerPolicy};
use eagw::turn::server::*;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const S: u64 = 1_000_000_000;

#[derive(Default)]
struct Fake {
    next: u32,
    open: Vec<u32>,
}

impl Relays for Fake {
    fn open(&mut self, _v6: bool) -> Option<(u32, SocketAddr)> {
        if self.open.len() >= 6 {
            return None;
        }
        self.next += 1;
        self.open.push(self.next);
        Some((self.next, SocketAddr::from(([192, 0, 2, 1], 50000 + self.next as u16))))
    }
    fn close(&mut self, h: u32) {
        assert!(self.open.contains(&h), "closing a relay that is not open");
        self.open.retain(|&x| x != h);
    }
}

fn peer(b: u8) -> SocketAddr {
    match b % 4 {
        0 => SocketAddr::from(([203, 0, 113, b], 7000)),
        1 => SocketAddr::from(([127, 0, 0, 1], 7000)),
        2 => SocketAddr::from(([10, 0, 0, b], 7000)),
        _ => SocketAddr::from(([203, 0, 113, 9], b as u16)),
    }
}

fuzz_target!(|data: &[u8]| {
    let p = rtc_crypto::default_provider().unwrap();
    let creds = Credentials::new("r", &[("u".into(), "p".into())], Some("s"), [1; 32], 600 * S, p.crypto()).unwrap();
    let shared = Arc::new(TurnShared {
        creds,
        policy: PeerPolicy { allow: vec![Net::parse("203.0.113.0/24").unwrap()], own: vec![] },
        limits: Limits { user_quota: 3, total_quota: 5, bytes_per_sec: 20_000, ..Limits::default() },
        ledger: Mutex::new(Default::default()),
    });
    let key = long_term_key("u", "r", "p", p.crypto()).unwrap();
    let bad = long_term_key("u", "r", "q", p.crypto()).unwrap();
    let mut srv = TurnServer::new(shared.clone(), p.clone(), 10 * S);
    let mut relays = Fake::default();
    let mut now = 10 * S;
    let mut nonce: Vec<u8> = vec![];
    let mut txn = 0u64;
    let mut buf = vec![0u8; 4096];
    let mut i = 0;
    while i + 2 <= data.len() {
        let (head, len) = (data[i], data[i + 1] as usize);
        let payload = &data[i + 2..(i + 2 + len).min(data.len())];
        i += 2 + len;
        let c = Client { via: (head & 3) as u32, addr: SocketAddr::from(([198, 51, 100, 7], 4000 + (head & 3) as u16)) };
        let b = |k: usize| payload.get(k).copied().unwrap_or(0);
        let kind = (head >> 2) & 7;
        let msg: Vec<u8> = match kind {
            0 => payload.to_vec(),
            1 => {
                let n = payload.len().min(1000);
                buf[HEADROOM..HEADROOM + n].copy_from_slice(&payload[..n]);
                let relay = (b(0) % 4) as u32 + 1;
                if let PeerOut::Client { client, start, end } = srv.on_peer(relay, peer(b(1)), &mut buf, n, now) {
                    assert!(start < end && end <= buf.len());
                    assert!(relays.open.contains(&relay));
                    assert!(client.via < 4);
                }
                continue;
            }
            2..=5 => {
                txn += 1;
                let mut txid = [0u8; 12];
                txid[..8].copy_from_slice(&txn.to_be_bytes());
                let method = [
                    rtc_stun::message::METHOD_ALLOCATE,
                    rtc_stun::message::METHOD_CREATE_PERMISSION,
                    rtc_stun::message::METHOD_CHANNEL_BIND,
                    rtc_stun::message::METHOD_REFRESH,
                ][(kind - 2) as usize];
                let req = Req {
                    transport: b(0) & 2 == 0,
                    lifetime: (b(0) & 4 != 0).then(|| b(2) as u32 * 10),
                    peer: (b(0) & 8 == 0).then(|| peer(b(1))),
                    channel: (b(0) & 16 == 0).then(|| 0x3ff0 + b(3) as u16),
                };
                let k = if b(0) & 1 != 0 { &key } else { &bad };
                let auth = Auth { user: "u", realm: "r", nonce: &nonce, key: k };
                client::request(method, txid, &req, (b(0) & 32 == 0).then_some(&auth), p.crypto())
            }
            6 => {
                if b(0) & 1 == 0 {
                    client::channel_data(0x3ff0 + b(1) as u16, payload)
                } else {
                    client::send_indication(peer(b(1)), payload, [b(2); 12])
                }
            }
            _ => {
                now += b(0) as u64 * S;
                srv.tick(now, &mut relays);
                continue;
            }
        };
        match srv.on_client(c, &msg, now, &mut relays) {
            ClientOut::None => {}
            ClientOut::Reply(r) => {
                if let Some((_, Some(n))) = client::parse_response(&r) {
                    nonce = n;
                }
            }
            ClientOut::Relay { relay, peer, start, end } => {
                assert!(start <= end && end <= msg.len());
                assert!(relays.open.contains(&relay));
                assert!(shared.policy.check(peer.ip(), peer.port()).is_ok(), "relayed to a denied peer {peer}");
            }
        }
        assert_eq!(relays.open.len(), srv.allocations());
    }
    now += 4000 * S;
    srv.tick(now, &mut relays);
    assert!(relays.open.is_empty() && srv.allocations() == 0);
    assert_eq!(srv.shared_ledger_total(), 0);
});
