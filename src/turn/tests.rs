//! The TURN core against a client built with rtc-stun, with a fake relay-socket layer.

use super::auth::{long_term_key, rest_password, Credentials};
use super::policy::{Net, PeerPolicy};
use super::server::*;
use rtc_stun::attributes::*;
use rtc_stun::error_code::ErrorCodeAttribute;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::*;
use rtc_stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

const S: u64 = 1_000_000_000;

#[derive(Default)]
struct FakeRelays {
    next: u32,
    open: Vec<u32>,
    fail: bool,
}

impl Relays for FakeRelays {
    fn open(&mut self, v6: bool) -> Option<(u32, SocketAddr)> {
        if self.fail || v6 {
            return None;
        }
        self.next += 1;
        self.open.push(self.next);
        Some((self.next, format!("192.0.2.1:{}", 50000 + self.next).parse().unwrap()))
    }
    fn close(&mut self, h: u32) {
        self.open.retain(|&x| x != h);
    }
}

fn provider() -> Arc<dyn rtc_crypto::RTCCryptoProvider> {
    rtc_crypto::default_provider().unwrap()
}

fn shared(limits: Limits, allow: &[&str]) -> Arc<TurnShared> {
    let p = provider();
    let creds = Credentials::new(
        "eagw",
        &[("demo".into(), "demo-password".into()), ("bob".into(), "bob-pw".into())],
        Some("loopback-test-secret"),
        [3; 32],
        600 * S,
        p.crypto(),
    )
    .unwrap();
    Arc::new(TurnShared {
        creds,
        policy: PeerPolicy { allow: allow.iter().map(|a| Net::parse(a).unwrap()).collect(), own: vec!["192.0.2.1".parse().unwrap()] },
        limits,
        ledger: Mutex::new(Default::default()),
    })
}

struct T {
    srv: TurnServer,
    relays: FakeRelays,
    now: u64,
    client: Client,
    user: String,
    key: Vec<u8>,
    nonce: Vec<u8>,
}

fn client(port: u16) -> Client {
    Client { via: 0, addr: format!("198.51.100.7:{port}").parse().unwrap() }
}

impl T {
    fn new(limits: Limits, allow: &[&str]) -> T {
        let sh = shared(limits, allow);
        let p = provider();
        let key = long_term_key("demo", "eagw", "demo-password", p.crypto()).unwrap();
        T {
            srv: TurnServer::new(sh, provider(), 1000 * S),
            relays: FakeRelays::default(),
            now: 1000 * S,
            client: client(4000),
            user: "demo".into(),
            key,
            nonce: vec![],
        }
    }

    /// A request; `auth` adds USERNAME, REALM, NONCE and MESSAGE-INTEGRITY.
    fn msg(&self, method: Method, auth: bool, fill: impl FnOnce(&mut Message)) -> Vec<u8> {
        let mut m = Message::new();
        m.typ = MessageType::new(method, CLASS_REQUEST);
        m.new_transaction_id().unwrap();
        m.write_header();
        fill(&mut m);
        if auth {
            m.add(ATTR_USERNAME, self.user.as_bytes());
            m.add(ATTR_REALM, b"eagw");
            m.add(ATTR_NONCE, &self.nonce);
            let p = provider();
            MessageIntegrity::new_raw_integrity_with_provider(self.key.clone(), p.crypto()).add_to(&mut m).unwrap();
        }
        m.raw
    }

    fn send(&mut self, pkt: &[u8]) -> ClientOut {
        let c = self.client;
        self.srv.on_client(c, pkt, self.now, &mut self.relays)
    }

    /// Sends and decodes the reply; remembers a nonce it carries.
    fn ask(&mut self, pkt: &[u8]) -> Message {
        let ClientOut::Reply(r) = self.send(pkt) else { panic!("no reply") };
        let mut m = Message { raw: r, ..Message::default() };
        m.decode().unwrap();
        if let Ok(n) = m.get(ATTR_NONCE) {
            self.nonce = n;
        }
        m
    }

    fn allocate(&mut self) -> Message {
        let first = self.msg(METHOD_ALLOCATE, false, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
        let r = self.ask(&first);
        assert_eq!(code(&r), Some(401));
        let req = self.msg(METHOD_ALLOCATE, true, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
        self.ask(&req)
    }

    fn peer_req(&self, method: Method, peer: SocketAddr, channel: Option<u16>) -> Vec<u8> {
        self.msg(method, true, |m| {
            if let Some(c) = channel {
                m.add(ATTR_CHANNEL_NUMBER, &[(c >> 8) as u8, c as u8, 0, 0]);
            }
            XorMappedAddress { ip: peer.ip(), port: peer.port() }.add_to_as(m, ATTR_XOR_PEER_ADDRESS).unwrap();
        })
    }

    fn check_integrity(&self, m: &mut Message) -> bool {
        let p = provider();
        MessageIntegrity::check(m, &self.key, p.crypto()).is_ok()
    }
}

fn code(m: &Message) -> Option<u16> {
    let mut e = ErrorCodeAttribute::default();
    use rtc_stun::message::Getter;
    e.get_from(m).ok().map(|_| e.code.0)
}

fn send_indication(peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut m = Message::new();
    m.typ = MessageType::new(METHOD_SEND, CLASS_INDICATION);
    m.new_transaction_id().unwrap();
    m.write_header();
    XorMappedAddress { ip: peer.ip(), port: peer.port() }.add_to_as(&mut m, ATTR_XOR_PEER_ADDRESS).unwrap();
    m.add(ATTR_DATA, data);
    m.raw
}

fn peer_packet(payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; HEADROOM + payload.len() + 4];
    b[HEADROOM..HEADROOM + payload.len()].copy_from_slice(payload);
    b
}

const PEER: &str = "203.0.113.9:7000";

#[test]
fn allocate_challenge_wrong_password_and_success() {
    let mut t = T::new(Limits::default(), &[]);
    let first = t.msg(METHOD_ALLOCATE, false, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
    let r = t.ask(&first);
    assert_eq!(r.typ, MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE));
    assert_eq!(code(&r), Some(401));
    assert_eq!(r.get(ATTR_REALM).unwrap(), b"eagw");
    let nonce1 = t.nonce.clone();
    // a wrong password: 401 again (not 400), with a fresh nonce, counted
    t.now += S;
    let good = t.key.clone();
    t.key = long_term_key("demo", "eagw", "wrong", provider().crypto()).unwrap();
    let req = t.msg(METHOD_ALLOCATE, true, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
    let r = t.ask(&req);
    assert_eq!(code(&r), Some(401));
    assert_ne!(t.nonce, nonce1, "a fresh nonce");
    assert_eq!(t.srv.stats.auth_failures, 1);
    assert_eq!(t.srv.allocations(), 0);
    // unknown user: 401
    t.user = "mallory".into();
    let req = t.msg(METHOD_ALLOCATE, true, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
    assert_eq!(code(&t.ask(&req)), Some(401));
    assert_eq!(t.srv.stats.auth_failures, 2);
    t.user = "demo".into();
    t.key = good;
    let req = t.msg(METHOD_ALLOCATE, true, |m| {
        m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]);
        m.add(ATTR_LIFETIME, &100_000u32.to_be_bytes());
    });
    let mut r = t.ask(&req);
    assert_eq!(r.typ, MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE));
    assert!(t.check_integrity(&mut r));
    let mut relayed = XorMappedAddress::default();
    relayed.get_from_as(&r, ATTR_XOR_RELAYED_ADDRESS).unwrap();
    assert_eq!(relayed.to_string(), "192.0.2.1:50001");
    let mut mapped = XorMappedAddress::default();
    mapped.get_from_as(&r, ATTR_XORMAPPED_ADDRESS).unwrap();
    assert_eq!(mapped.to_string(), "198.51.100.7:4000");
    assert_eq!(r.get(ATTR_LIFETIME).unwrap(), 3600u32.to_be_bytes(), "clamped to the maximum");
    assert_eq!(t.srv.allocations(), 1);
    // a retransmission gets the same answer; a new Allocate on the 5-tuple 437
    let ClientOut::Reply(again) = t.send(&req) else { panic!() };
    assert_eq!(again, r.raw);
    let req = t.msg(METHOD_ALLOCATE, true, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
    assert_eq!(code(&t.ask(&req)), Some(437));
    // another user on this allocation: 441
    t.user = "bob".into();
    t.key = long_term_key("bob", "eagw", "bob-pw", provider().crypto()).unwrap();
    let req = t.msg(METHOD_REFRESH, true, |_| {});
    assert_eq!(code(&t.ask(&req)), Some(441));
}

#[test]
fn stale_nonce_438_then_success() {
    let mut t = T::new(Limits::default(), &[]);
    assert_eq!(code(&t.allocate()), None);
    t.now += 601 * S;
    let req = t.msg(METHOD_REFRESH, true, |_| {});
    let r = t.ask(&req);
    assert_eq!(code(&r), Some(438));
    assert_eq!(t.srv.stats.stale_nonces, 1);
    let req = t.msg(METHOD_REFRESH, true, |_| {});
    let r = t.ask(&req);
    assert_eq!(code(&r), None);
    assert_eq!(r.get(ATTR_LIFETIME).unwrap(), 600u32.to_be_bytes());
    // a forged nonce is stale too
    t.nonce = b"ffffffffffffffff0000000000000000".to_vec();
    let req = t.msg(METHOD_REFRESH, true, |_| {});
    assert_eq!(code(&t.ask(&req)), Some(438));
}

#[test]
fn rest_credentials_and_their_expiry() {
    let mut t = T::new(Limits::default(), &[]);
    let unix = t.srv.unix_base + t.now / S;
    t.user = format!("{}:alice", unix + 60);
    let pw = rest_password(b"loopback-test-secret", &t.user);
    t.key = long_term_key(&t.user, "eagw", &pw, provider().crypto()).unwrap();
    let mut r = t.allocate();
    assert_eq!(code(&r), None);
    assert!(t.check_integrity(&mut r));
    // expired: 401, counted
    t.client = client(4001);
    t.user = format!("{}:alice", unix - 1);
    let pw = rest_password(b"loopback-test-secret", &t.user);
    t.key = long_term_key(&t.user, "eagw", &pw, provider().crypto()).unwrap();
    assert_eq!(code(&t.allocate()), Some(401));
    assert_eq!(t.srv.stats.rest_expired, 1);
    assert_eq!(t.srv.allocations(), 1);
}

#[test]
fn permissions_send_indications_and_data_indications() {
    let mut t = T::new(Limits::default(), &[]);
    t.allocate();
    let peer: SocketAddr = PEER.parse().unwrap();
    // nothing is relayed before a permission
    assert_eq!(t.send(&send_indication(peer, b"early")), ClientOut::None);
    assert_eq!(t.srv.stats.no_permission, 1);
    let mut r = t.ask(&t.peer_req(METHOD_CREATE_PERMISSION, peer, None));
    assert_eq!(code(&r), None);
    assert!(t.check_integrity(&mut r));
    let ind = send_indication(peer, b"hello peer");
    let ClientOut::Relay { relay, peer: to, start, end } = t.send(&ind) else { panic!() };
    assert_eq!((relay, to, &ind[start..end]), (1, peer, &b"hello peer"[..]));
    // the peer answers: a Data indication the client can parse
    let mut b = peer_packet(b"hi client");
    let PeerOut::Client { client, start, end } = t.srv.on_peer(1, peer, &mut b, 9, t.now) else { panic!() };
    assert_eq!(client, t.client);
    let mut m = Message { raw: b[start..end].to_vec(), ..Message::default() };
    m.decode().unwrap();
    assert_eq!(m.typ, MessageType::new(METHOD_DATA, CLASS_INDICATION));
    assert_eq!(m.get(ATTR_DATA).unwrap(), b"hi client");
    let mut from = XorMappedAddress::default();
    from.get_from_as(&m, ATTR_XOR_PEER_ADDRESS).unwrap();
    assert_eq!(from.to_string(), PEER);
    // a peer without permission (same IP, other port is fine; other IP is not)
    let mut b = peer_packet(b"x");
    assert!(matches!(t.srv.on_peer(1, "203.0.113.9:9".parse().unwrap(), &mut b, 1, t.now), PeerOut::Client { .. }));
    assert_eq!(t.srv.on_peer(1, "203.0.113.10:7000".parse().unwrap(), &mut b, 1, t.now), PeerOut::None);
    assert_eq!(t.srv.stats.no_permission, 2);
    // permissions last 300 s
    t.now += 301 * S;
    assert_eq!(t.send(&ind), ClientOut::None);
    let mut b = peer_packet(b"late");
    assert_eq!(t.srv.on_peer(1, peer, &mut b, 4, t.now), PeerOut::None);
    assert_eq!(t.srv.stats.to_peer_packets, 1);
}

#[test]
fn denied_peers_403_unless_allowed() {
    let mut t = T::new(Limits::default(), &[]);
    t.allocate();
    for p in ["127.0.0.1:5000", "10.0.0.1:5000", "192.0.2.1:50001", "169.254.0.1:1", "224.0.0.5:1"] {
        let r = t.ask(&t.peer_req(METHOD_CREATE_PERMISSION, p.parse().unwrap(), None));
        assert_eq!(code(&r), Some(403), "{p}");
        let r = t.ask(&t.peer_req(METHOD_CHANNEL_BIND, p.parse().unwrap(), Some(0x4000)));
        assert_eq!(code(&r), Some(403), "{p}");
    }
    assert_eq!(t.srv.stats.denied_peers, 10);
    let mut t = T::new(Limits::default(), &["127.0.0.0/8"]);
    t.allocate();
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CREATE_PERMISSION, "127.0.0.1:5000".parse().unwrap(), None))), None);
    // an IPv6 peer on an IPv4 relay: 443
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CREATE_PERMISSION, "[2001:db8::1]:5".parse().unwrap(), None))), Some(443));
}

#[test]
fn channels_both_ways_and_their_rules() {
    let mut t = T::new(Limits::default(), &[]);
    t.allocate();
    let peer: SocketAddr = PEER.parse().unwrap();
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CHANNEL_BIND, peer, Some(0x3fff)))), Some(400));
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CHANNEL_BIND, peer, Some(0x4001)))), None);
    // the number stays with its peer, the peer with its number
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CHANNEL_BIND, "203.0.113.9:7001".parse().unwrap(), Some(0x4001)))), Some(400));
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CHANNEL_BIND, peer, Some(0x4002)))), Some(400));
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CHANNEL_BIND, peer, Some(0x4001)))), None, "refresh");
    let mut cd = vec![0x40, 0x01, 0, 5];
    cd.extend_from_slice(b"abcde\0\0\0");
    assert_eq!(t.send(&cd), ClientOut::Relay { relay: 1, peer, start: 4, end: 9 });
    // unbound channel, truncated ChannelData: dropped and counted
    assert_eq!(t.send(&[0x40, 0x02, 0, 1, 9]), ClientOut::None);
    assert_eq!(t.send(&[0x40, 0x01, 0, 9, 1]), ClientOut::None);
    assert_eq!(t.send(&[0x40]), ClientOut::None);
    assert_eq!(t.srv.stats.malformed, 3 + 2);
    // the peer's answer comes as ChannelData (unpadded over UDP, padded over a stream)
    let mut b = peer_packet(b"xyz");
    let PeerOut::Client { start, end, .. } = t.srv.on_peer(1, peer, &mut b, 3, t.now) else { panic!() };
    assert_eq!(&b[start..end], &[0x40, 0x01, 0, 3, b'x', b'y', b'z']);
    // channels last 600 s, permissions 300 s (the client refreshes the permission)
    t.now += 400 * S;
    assert_eq!(t.send(&cd), ClientOut::None);
    assert_eq!(code(&t.ask(&t.peer_req(METHOD_CREATE_PERMISSION, peer, None))), None);
    assert!(matches!(t.send(&cd), ClientOut::Relay { .. }));
    t.now += 201 * S;
    t.srv.tick(t.now, &mut t.relays);
    assert_eq!(t.send(&cd), ClientOut::None, "the channel expired");
}

#[test]
fn refresh_lifetimes_and_expiry() {
    let mut t = T::new(Limits::default(), &[]);
    t.allocate();
    assert_eq!(t.relays.open, vec![1]);
    t.now += 599 * S;
    t.srv.tick(t.now, &mut t.relays);
    assert_eq!(t.srv.allocations(), 1);
    let r = t.ask(&t.msg(METHOD_REFRESH, true, |m| m.add(ATTR_LIFETIME, &30u32.to_be_bytes())));
    assert_eq!(r.get(ATTR_LIFETIME).unwrap(), 600u32.to_be_bytes(), "at least the default");
    t.now += 599 * S;
    t.srv.tick(t.now, &mut t.relays);
    assert_eq!(t.srv.allocations(), 1);
    t.now += 2 * S;
    t.srv.tick(t.now, &mut t.relays);
    assert_eq!(t.srv.allocations(), 0);
    assert!(t.relays.open.is_empty(), "relay socket closed");
    assert_eq!(t.srv.stats.allocations_expired, 1);
    // Refresh without an allocation: 437 (once the expired nonce is renewed); lifetime 0 deletes
    assert_eq!(code(&t.ask(&t.msg(METHOD_REFRESH, true, |_| {}))), Some(438));
    assert_eq!(code(&t.ask(&t.msg(METHOD_REFRESH, true, |_| {}))), Some(437));
    t.allocate();
    let r = t.ask(&t.msg(METHOD_REFRESH, true, |m| m.add(ATTR_LIFETIME, &0u32.to_be_bytes())));
    assert_eq!((code(&r), r.get(ATTR_LIFETIME).unwrap()), (None, 0u32.to_be_bytes().to_vec()));
    assert_eq!(t.srv.allocations(), 0);
    assert!(t.relays.open.is_empty());
    assert_eq!(t.srv.shared_ledger_total(), 0);
}

#[test]
fn quotas_per_user_and_total() {
    let mut t = T::new(Limits { user_quota: 2, total_quota: 3, ..Limits::default() }, &[]);
    for p in 0..2 {
        t.client = client(5000 + p);
        assert_eq!(code(&t.allocate()), None);
    }
    t.client = client(5002);
    assert_eq!(code(&t.allocate()), Some(486));
    assert_eq!(t.srv.stats.quota, 1);
    t.user = "bob".into();
    t.key = long_term_key("bob", "eagw", "bob-pw", provider().crypto()).unwrap();
    assert_eq!(code(&t.allocate()), None);
    t.client = client(5003);
    assert_eq!(code(&t.allocate()), Some(508));
    assert_eq!(t.srv.stats.capacity, 1);
    // no relay port: 508, and the quota is given back
    let mut t = T::new(Limits { user_quota: 1, ..Limits::default() }, &[]);
    t.relays.fail = true;
    assert_eq!(code(&t.allocate()), Some(508));
    t.relays.fail = false;
    assert_eq!(code(&t.allocate()), None);
}

#[test]
fn bandwidth_cap_per_allocation() {
    let mut t = T::new(Limits { bytes_per_sec: 10_000, ..Limits::default() }, &[]);
    t.allocate();
    let peer: SocketAddr = PEER.parse().unwrap();
    t.ask(&t.peer_req(METHOD_CHANNEL_BIND, peer, Some(0x4000)));
    let mut cd = vec![0x40, 0x00, 0x03, 0xe8];
    cd.extend_from_slice(&[0u8; 1000]);
    let sent = (0..20).filter(|_| matches!(t.send(&cd), ClientOut::Relay { .. })).count();
    assert_eq!(sent, 10, "one second of burst");
    assert_eq!(t.srv.stats.bandwidth_drops, 10);
    t.now += S / 2;
    let sent = (0..20).filter(|_| matches!(t.send(&cd), ClientOut::Relay { .. })).count();
    assert_eq!(sent, 5);
}

#[test]
fn junk_and_unknown_methods_harm_nothing() {
    let mut t = T::new(Limits::default(), &[]);
    t.allocate();
    let peer: SocketAddr = PEER.parse().unwrap();
    t.ask(&t.peer_req(METHOD_CHANNEL_BIND, peer, Some(0x4000)));
    for junk in [&b""[..], b"\x00", b"\xff\xff\xff\xff", b"\x00\x16\x00\x04\x21\x12\xa4\x42", b"\x00\x01\x00\x00\x21\x12\xa4\x42\0\0\0\0\0\0\0\0\0\0\0\0\0"] {
        assert!(!matches!(t.send(junk), ClientOut::Relay { .. }));
    }
    // a Send indication with a truncated attribute
    let mut ind = send_indication(peer, b"abcd");
    ind.truncate(ind.len() - 2);
    assert_eq!(t.send(&ind), ClientOut::None);
    // an unknown comprehension-required attribute: 420
    let r = t.ask(&t.msg(METHOD_REFRESH, true, |m| m.add(AttrType(0x0077), b"x")));
    assert_eq!(code(&r), Some(420));
    // an unsupported method: 400
    let r = t.ask(&t.msg(METHOD_CONNECT, false, |_| {}));
    assert_eq!(code(&r), Some(400));
    // the allocation still relays
    assert!(matches!(t.send(&[0x40, 0x00, 0, 1, 7]), ClientOut::Relay { .. }));
    // Binding requests are answered (clients use them for keepalives)
    let r = t.ask(&t.msg(METHOD_BINDING, false, |_| {}));
    assert_eq!(r.typ, MessageType::new(METHOD_BINDING, CLASS_SUCCESS_RESPONSE));
}
