//! The TURN server core of one worker (RFC 8656), sans-IO: datagrams from clients and
//! from peers go in with the time, datagrams to send come out; relay sockets are asked of
//! a [`Relays`] implementation (the worker's socket layer, or a fake in tests).
//!
//! Control messages (Allocate, Refresh, CreatePermission, ChannelBind, Binding) are
//! parsed and built with `rtc-stun`; they are rare. The data path (ChannelData, Send and
//! Data indications) is zero-copy and allocation-free: a peer's datagram is received
//! [`HEADROOM`] bytes into the buffer so the ChannelData or Data-indication header is
//! written in front of it in place.

use super::auth::{Credentials, Lookup};
use super::policy::PeerPolicy;
use crate::stats::TurnStats;
use rtc_crypto::RTCCryptoProvider;
use rtc_stun::attributes::*;
use rtc_stun::error_code::*;
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::*;
use rtc_stun::xoraddr::XorMappedAddress;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// Channel numbers accepted: RFC 8656's 0x4000-0x4FFF and the rest of RFC 5766's range.
pub const CHANNELS: std::ops::RangeInclusive<u16> = 0x4000..=0x7fff;
/// Bytes kept free in front of a peer's payload for the header to the client: a Data
/// indication with an IPv6 XOR-PEER-ADDRESS (20 + 24 + 4).
pub const HEADROOM: usize = 48;
/// Bit set in a `via` for stream (TCP/TLS) connections: ChannelData there is padded.
pub const STREAM_VIA: u32 = 1 << 31;

const SEC: u64 = 1_000_000_000;
/// RFC 8656: permissions last 300 s, channel bindings 600 s.
pub const PERMISSION_NS: u64 = 300 * SEC;
pub const CHANNEL_NS: u64 = 600 * SEC;
/// Permissions and channels one allocation may hold.
const MAX_PERMISSIONS: usize = 64;
const MAX_CHANNELS: usize = 64;
const TYPE_SEND_INDICATION: u16 = 0x0016;
const TYPE_DATA_INDICATION: u16 = 0x0017;
const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// Limits from config.
#[derive(Clone, Debug)]
pub struct Limits {
    pub default_lifetime_ns: u64,
    pub max_lifetime_ns: u64,
    /// Allocations per username across all workers (0 = no limit).
    pub user_quota: usize,
    /// Allocations across all workers (0 = no limit).
    pub total_quota: usize,
    /// Bytes per second per allocation and direction (0 = no cap).
    pub bytes_per_sec: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { default_lifetime_ns: 600 * SEC, max_lifetime_ns: 3600 * SEC, user_quota: 0, total_quota: 0, bytes_per_sec: 0 }
    }
}

/// Allocation counts shared by the workers, touched only when an allocation is made or
/// ends (never per packet).
#[derive(Debug, Default)]
pub struct Ledger {
    total: usize,
    users: HashMap<String, usize>,
}

/// What every worker's TURN core shares (read-only but for the ledger).
#[derive(Debug)]
pub struct TurnShared {
    pub creds: Credentials,
    pub policy: PeerPolicy,
    pub limits: Limits,
    pub ledger: Mutex<Ledger>,
}

/// The socket layer as the core sees it.
pub trait Relays {
    /// Opens a relay socket of the family asked for; its handle (used in
    /// [`TurnServer::on_peer`]) and bound address.
    fn open(&mut self, v6: bool) -> Option<(u32, SocketAddr)>;
    fn close(&mut self, handle: u32);
}

/// A client's transport: the listener or connection it came in on, and its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    pub via: u32,
    pub addr: SocketAddr,
}

/// What to do with a client's message.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientOut {
    None,
    /// Send back to the client.
    Reply(Vec<u8>),
    /// Send `buf[start..end]` out of relay socket `relay` to `peer`.
    Relay { relay: u32, peer: SocketAddr, start: usize, end: usize },
}

/// What to do with a peer's datagram: send `buf[start..end]` to the client.
#[derive(Debug, PartialEq, Eq)]
pub enum PeerOut {
    None,
    Client { client: Client, start: usize, end: usize },
}

#[derive(Debug)]
struct Bucket {
    tokens: u64,
    last: u64,
}

impl Bucket {
    /// Takes `n` bytes at `now` with `rate` bytes/s and one second of burst.
    fn take(&mut self, n: u64, rate: u64, now: u64) -> bool {
        if rate == 0 {
            return true;
        }
        let refill = (now.saturating_sub(self.last) as u128 * rate as u128 / SEC as u128) as u64;
        if refill > 0 {
            self.tokens = self.tokens.saturating_add(refill).min(rate.max(3000));
            self.last = now;
        }
        if self.tokens < n {
            return false;
        }
        self.tokens -= n;
        true
    }
}

#[derive(Debug)]
struct Channel {
    number: u16,
    peer: SocketAddr,
    expires: u64,
}

#[derive(Debug)]
struct Alloc {
    client: Client,
    relay: u32,
    relay_addr: SocketAddr,
    user: String,
    expires: u64,
    /// The Allocate's transaction and our answer (a retransmission gets it again).
    txid: [u8; 12],
    response: Vec<u8>,
    perms: Vec<(IpAddr, u64)>,
    channels: Vec<Channel>,
    up: Bucket,
    down: Bucket,
}

impl Alloc {
    #[inline]
    fn permitted(&self, ip: IpAddr, now: u64) -> bool {
        self.perms.iter().any(|&(a, e)| a == ip && e > now)
    }
}

/// The TURN core of one worker.
pub struct TurnServer {
    shared: Arc<TurnShared>,
    crypto: Arc<dyn RTCCryptoProvider>,
    allocs: Vec<Option<Alloc>>,
    free: Vec<usize>,
    by_client: HashMap<Client, usize>,
    by_relay: HashMap<u32, usize>,
    pub stats: TurnStats,
    /// Unix time (s) at monotonic 0: REST usernames carry a Unix expiry.
    pub unix_base: u64,
    seq: u64,
}

/// Why a request failed: the error response and the counter it bumps.
struct Refusal {
    code: ErrorCode,
    reason: &'static str,
}

fn refuse(code: ErrorCode, reason: &'static str) -> Refusal {
    Refusal { code, reason }
}

impl TurnServer {
    pub fn new(shared: Arc<TurnShared>, crypto: Arc<dyn RTCCryptoProvider>, now: u64) -> TurnServer {
        let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        TurnServer {
            shared,
            crypto,
            allocs: Vec::new(),
            free: Vec::new(),
            by_client: HashMap::new(),
            by_relay: HashMap::new(),
            stats: TurnStats::default(),
            unix_base: unix.saturating_sub(now / SEC),
            seq: 0,
        }
    }

    pub fn allocations(&self) -> usize {
        self.by_client.len()
    }

    pub fn has_allocation(&self, client: &Client) -> bool {
        self.by_client.contains_key(client)
    }

    /// Allocations counted by the quota ledger across all workers.
    pub fn shared_ledger_total(&self) -> usize {
        self.shared.ledger.lock().map(|l| l.total).unwrap_or(0)
    }

    /// One message from a client (a UDP datagram or one framed message of a stream).
    pub fn on_client(&mut self, client: Client, buf: &[u8], now: u64, relays: &mut dyn Relays) -> ClientOut {
        match buf.first() {
            // RFC 8656 narrowed channels to 0x4000-0x4FFF; RFC 5766 clients (coturn's own
            // uclient among them) still pick up to 0x7FFF, which nothing else on a TURN port uses
            Some(0x40..=0x7f) => self.channel_data(client, buf, now),
            Some(0..=3) => {
                if buf.len() >= 20 && u16::from_be_bytes([buf[0], buf[1]]) == TYPE_SEND_INDICATION {
                    return self.send_indication(client, buf, now);
                }
                self.stun(client, buf, now, relays)
            }
            _ => {
                self.stats.malformed += 1;
                ClientOut::None
            }
        }
    }

    fn channel_data(&mut self, client: Client, buf: &[u8], now: u64) -> ClientOut {
        if buf.len() < 4 {
            self.stats.malformed += 1;
            return ClientOut::None;
        }
        let number = u16::from_be_bytes([buf[0], buf[1]]);
        let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
        if buf.len() < 4 + len {
            self.stats.malformed += 1;
            return ClientOut::None;
        }
        let Some(&i) = self.by_client.get(&client) else {
            self.stats.no_allocation += 1;
            return ClientOut::None;
        };
        let rate = self.shared.limits.bytes_per_sec;
        let Some(al) = self.allocs.get_mut(i).and_then(Option::as_mut) else {
            return ClientOut::None;
        };
        let Some(ch) = al.channels.iter().find(|c| c.number == number && c.expires > now) else {
            self.stats.no_permission += 1;
            return ClientOut::None;
        };
        let peer = ch.peer;
        if !al.permitted(peer.ip(), now) {
            self.stats.no_permission += 1;
            return ClientOut::None;
        }
        if !al.up.take(len as u64, rate, now) {
            self.stats.bandwidth_drops += 1;
            return ClientOut::None;
        }
        self.stats.to_peer_packets += 1;
        self.stats.to_peer_bytes += len as u64;
        ClientOut::Relay { relay: al.relay, peer, start: 4, end: 4 + len }
    }

    /// Send indication: XOR-PEER-ADDRESS and DATA, walked without allocating.
    fn send_indication(&mut self, client: Client, buf: &[u8], now: u64) -> ClientOut {
        let Some(walk) = Walk::new(buf) else {
            self.stats.malformed += 1;
            return ClientOut::None;
        };
        let txid = walk.txid;
        let (mut peer, mut data) = (None, None);
        for (typ, start, end) in walk {
            match typ {
                0x0012 if peer.is_none() => peer = buf.get(start..end).and_then(|v| xor_addr(v, &txid)),
                0x0013 if data.is_none() => data = Some((start, end)),
                _ => {}
            }
        }
        let (Some(peer), Some((start, end))) = (peer, data) else {
            self.stats.malformed += 1;
            return ClientOut::None;
        };
        let Some(&i) = self.by_client.get(&client) else {
            self.stats.no_allocation += 1;
            return ClientOut::None;
        };
        let rate = self.shared.limits.bytes_per_sec;
        let Some(al) = self.allocs.get_mut(i).and_then(Option::as_mut) else {
            return ClientOut::None;
        };
        if !al.permitted(peer.ip(), now) {
            self.stats.no_permission += 1;
            return ClientOut::None;
        }
        if !al.up.take((end - start) as u64, rate, now) {
            self.stats.bandwidth_drops += 1;
            return ClientOut::None;
        }
        self.stats.to_peer_packets += 1;
        self.stats.to_peer_bytes += (end - start) as u64;
        ClientOut::Relay { relay: al.relay, peer, start, end }
    }

    /// A datagram from `from` on relay socket `relay`: its payload is
    /// `buf[HEADROOM..HEADROOM + len]`, and `buf` has at least 3 bytes after it (padding).
    pub fn on_peer(&mut self, relay: u32, from: SocketAddr, buf: &mut [u8], len: usize, now: u64) -> PeerOut {
        let Some(&i) = self.by_relay.get(&relay) else {
            self.stats.no_allocation += 1;
            return PeerOut::None;
        };
        let rate = self.shared.limits.bytes_per_sec;
        let Some(al) = self.allocs.get_mut(i).and_then(Option::as_mut) else {
            return PeerOut::None;
        };
        if buf.len() < HEADROOM + len + 3 {
            self.stats.malformed += 1;
            return PeerOut::None;
        }
        // only from peers the client has permitted (RFC 8656 §9): anything else is dropped
        if !al.permitted(from.ip(), now) {
            self.stats.no_permission += 1;
            return PeerOut::None;
        }
        if !al.down.take(len as u64, rate, now) {
            self.stats.bandwidth_drops += 1;
            return PeerOut::None;
        }
        let client = al.client;
        self.stats.to_client_packets += 1;
        self.stats.to_client_bytes += len as u64;
        let end = HEADROOM + len;
        if let Some(ch) = al.channels.iter().find(|c| c.peer == from && c.expires > now) {
            let start = HEADROOM - 4;
            buf[start..start + 2].copy_from_slice(&ch.number.to_be_bytes());
            buf[start + 2..HEADROOM].copy_from_slice(&(len as u16).to_be_bytes());
            // over a stream, ChannelData is padded to 4 bytes (RFC 8656 §12.5)
            let padded = if client.via & STREAM_VIA != 0 { (end + 3) & !3 } else { end };
            buf[end..padded].fill(0);
            return PeerOut::Client { client, start, end: padded };
        }
        // a Data indication: header, XOR-PEER-ADDRESS, DATA header, payload, padding
        let addr_len = if from.is_ipv4() { 8 } else { 20 };
        let start = HEADROOM - 4 - (4 + addr_len) - 20;
        let padded = (end + 3) & !3;
        buf[end..padded].fill(0);
        let body = (padded - start - 20) as u16;
        self.seq = self.seq.wrapping_add(1);
        let mut txid = [0u8; 12];
        txid[..8].copy_from_slice(&self.seq.to_be_bytes());
        txid[8..].copy_from_slice(&(relay ^ 0x5eed_u32).to_be_bytes());
        let h = &mut buf[start..HEADROOM];
        h[0..2].copy_from_slice(&TYPE_DATA_INDICATION.to_be_bytes());
        h[2..4].copy_from_slice(&body.to_be_bytes());
        h[4..8].copy_from_slice(&COOKIE);
        h[8..20].copy_from_slice(&txid);
        h[20..22].copy_from_slice(&0x0012u16.to_be_bytes());
        h[22..24].copy_from_slice(&(addr_len as u16).to_be_bytes());
        write_xor_addr(&mut h[24..24 + addr_len], from, &txid);
        let d = 24 + addr_len;
        h[d..d + 2].copy_from_slice(&0x0013u16.to_be_bytes());
        h[d + 2..d + 4].copy_from_slice(&(len as u16).to_be_bytes());
        PeerOut::Client { client, start, end: padded }
    }

    /// Expires allocations, permissions and channels; call about once a second.
    pub fn tick(&mut self, now: u64, relays: &mut dyn Relays) {
        let mut dead = vec![];
        for (i, a) in self.allocs.iter_mut().enumerate() {
            let Some(a) = a else { continue };
            if a.expires <= now {
                dead.push(i);
                continue;
            }
            a.perms.retain(|&(_, e)| e > now);
            a.channels.retain(|c| c.expires > now);
        }
        for i in dead {
            self.stats.allocations_expired += 1;
            self.remove(i, relays);
        }
    }

    /// Removes every allocation (shutdown).
    pub fn close_all(&mut self, relays: &mut dyn Relays) {
        for i in 0..self.allocs.len() {
            if self.allocs[i].is_some() {
                self.remove(i, relays);
            }
        }
    }

    fn remove(&mut self, i: usize, relays: &mut dyn Relays) {
        let Some(a) = self.allocs.get_mut(i).and_then(Option::take) else { return };
        self.by_client.remove(&a.client);
        self.by_relay.remove(&a.relay);
        relays.close(a.relay);
        self.free.push(i);
        if let Ok(mut l) = self.shared.ledger.lock() {
            l.total = l.total.saturating_sub(1);
            if let Some(n) = l.users.get_mut(&a.user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    l.users.remove(&a.user);
                }
            }
        }
    }

    /// Removes allocations whose client came in on `via` (a closed TCP connection).
    pub fn close_via(&mut self, via: u32, relays: &mut dyn Relays) {
        let doomed: Vec<usize> = self.by_client.iter().filter(|(c, _)| c.via == via).map(|(_, &i)| i).collect();
        for i in doomed {
            self.remove(i, relays);
        }
    }

    fn stun(&mut self, client: Client, buf: &[u8], now: u64, relays: &mut dyn Relays) -> ClientOut {
        let mut m = Message { raw: buf.to_vec(), ..Message::default() };
        if m.decode().is_err() || m.raw.len() != 20 + m.length as usize {
            self.stats.malformed += 1;
            return ClientOut::None;
        }
        if m.typ.class != CLASS_REQUEST {
            // indications other than Send, and responses: nothing to do
            if m.typ.class != CLASS_INDICATION {
                self.stats.malformed += 1;
            }
            return ClientOut::None;
        }
        self.stats.requests += 1;
        if m.typ.method == METHOD_BINDING {
            let xor = XorMappedAddress { ip: client.addr.ip(), port: client.addr.port() };
            return ClientOut::Reply(build(&m, CLASS_SUCCESS_RESPONSE, |r| {
                xor.add_to(r).ok();
                FINGERPRINT.add_to(r).ok();
            }));
        }
        if ![METHOD_ALLOCATE, METHOD_REFRESH, METHOD_CREATE_PERMISSION, METHOD_CHANNEL_BIND].contains(&m.typ.method) {
            self.stats.malformed += 1;
            return self.error(&m, None, refuse(CODE_BAD_REQUEST, "Unsupported method"), now);
        }
        // RFC 8489 §7.3.1: comprehension-required attributes we do not know → 420
        let unknown: Vec<AttrType> = m.attributes.0.iter().map(|a| a.typ).filter(|t| t.value() < 0x8000 && !known(*t)).collect();
        if !unknown.is_empty() {
            self.stats.malformed += 1;
            let ua = rtc_stun::uattrs::UnknownAttributes(unknown);
            let err = ErrorCodeAttribute { code: CODE_UNKNOWN_ATTRIBUTE, reason: b"Unknown Attribute".to_vec() };
            return ClientOut::Reply(build(&m, CLASS_ERROR_RESPONSE, |r| {
                err.add_to(r).ok();
                ua.add_to(r).ok();
            }));
        }
        let key = match self.authenticate(&mut m, client, now) {
            Ok(k) => k,
            Err(reply) => return reply,
        };
        let result = match m.typ.method {
            METHOD_ALLOCATE => self.allocate(client, &m, &key.0, &key.1, now, relays),
            METHOD_REFRESH => self.refresh(client, &m, &key.1, now, relays),
            METHOD_CREATE_PERMISSION => self.create_permission(client, &m, &key.1, now),
            _ => self.channel_bind(client, &m, &key.1, now),
        };
        match result {
            Ok(reply) => ClientOut::Reply(reply),
            Err(r) => self.error(&m, Some(&key.1), r, now),
        }
    }

    /// The long-term credential mechanism (RFC 8489 §9.2.4): the username and its key, or
    /// the reply to send (401 with a fresh nonce, 438, 400, 441).
    fn authenticate(&mut self, m: &mut Message, client: Client, now: u64) -> Result<(String, Vec<u8>), ClientOut> {
        let creds = &self.shared.creds;
        if !m.contains(ATTR_MESSAGE_INTEGRITY) {
            self.stats.challenges += 1;
            return Err(self.challenge(m, CODE_UNAUTHORIZED, "Unauthorized", now));
        }
        let (Ok(user), Ok(realm), Ok(nonce)) = (m.get(ATTR_USERNAME), m.get(ATTR_REALM), m.get(ATTR_NONCE)) else {
            self.stats.malformed += 1;
            return Err(self.error(m, None, refuse(CODE_BAD_REQUEST, "Missing USERNAME, REALM or NONCE"), now));
        };
        if realm != creds.realm.as_bytes() || !creds.nonce_valid(&nonce, now) {
            self.stats.stale_nonces += 1;
            return Err(self.challenge(m, CODE_STALE_NONCE, "Stale Nonce", now));
        }
        let Ok(user) = String::from_utf8(user) else {
            self.stats.auth_failures += 1;
            return Err(self.challenge(m, CODE_UNAUTHORIZED, "Unauthorized", now));
        };
        let unix = self.unix_base + now / SEC;
        let key = match creds.lookup(&user, unix, self.crypto.crypto()) {
            Lookup::Key(k) => k,
            Lookup::Expired => {
                self.stats.rest_expired += 1;
                return Err(self.challenge(m, CODE_UNAUTHORIZED, "Unauthorized", now));
            }
            Lookup::Unknown => {
                self.stats.auth_failures += 1;
                return Err(self.challenge(m, CODE_UNAUTHORIZED, "Unauthorized", now));
            }
        };
        if MessageIntegrity::check(m, &key, self.crypto.crypto()).is_err() {
            self.stats.auth_failures += 1;
            return Err(self.challenge(m, CODE_UNAUTHORIZED, "Unauthorized", now));
        }
        // the allocation belongs to the user who made it (RFC 8656 §5)
        if let Some(a) = self.by_client.get(&client).and_then(|&i| self.allocs.get(i)).and_then(Option::as_ref) {
            if a.user != user {
                self.stats.auth_failures += 1;
                return Err(self.error(m, None, refuse(CODE_WRONG_CREDENTIALS, "Wrong Credentials"), now));
            }
        }
        Ok((user, key))
    }

    /// 401 or 438 with REALM and a fresh NONCE.
    fn challenge(&self, m: &Message, code: ErrorCode, reason: &str, now: u64) -> ClientOut {
        let creds = &self.shared.creds;
        let err = ErrorCodeAttribute { code, reason: reason.as_bytes().to_vec() };
        let nonce = creds.nonce(now);
        ClientOut::Reply(build(m, CLASS_ERROR_RESPONSE, |r| {
            err.add_to(r).ok();
            r.add(ATTR_REALM, creds.realm.as_bytes());
            r.add(ATTR_NONCE, nonce.as_bytes());
        }))
    }

    fn error(&self, m: &Message, key: Option<&[u8]>, r: Refusal, _now: u64) -> ClientOut {
        let err = ErrorCodeAttribute { code: r.code, reason: r.reason.as_bytes().to_vec() };
        let crypto = self.crypto.crypto();
        ClientOut::Reply(build(m, CLASS_ERROR_RESPONSE, |out| {
            err.add_to(out).ok();
            if let Some(k) = key {
                MessageIntegrity::new_raw_integrity_with_provider(k.to_vec(), crypto).add_to(out).ok();
            }
        }))
    }

    fn lifetime(&self, m: &Message) -> u64 {
        let l = &self.shared.limits;
        match m.get(ATTR_LIFETIME).ok().and_then(|v| <[u8; 4]>::try_from(v.as_slice()).ok()) {
            Some(v) => {
                let want = u32::from_be_bytes(v) as u64 * SEC;
                // RFC 8656 §7.2: at least the default, at most the maximum; 0 stays 0 (Refresh)
                if want == 0 {
                    0
                } else {
                    want.max(l.default_lifetime_ns.min(l.max_lifetime_ns)).min(l.max_lifetime_ns)
                }
            }
            None => l.default_lifetime_ns.min(l.max_lifetime_ns),
        }
    }

    fn allocate(&mut self, client: Client, m: &Message, user: &str, key: &[u8], now: u64, relays: &mut dyn Relays) -> Result<Vec<u8>, Refusal> {
        if let Some(a) = self.by_client.get(&client).and_then(|&i| self.allocs.get(i)).and_then(Option::as_ref) {
            if a.txid == m.transaction_id.0 {
                return Ok(a.response.clone()); // a retransmission
            }
            self.stats.mismatches += 1;
            return Err(refuse(CODE_ALLOC_MISMATCH, "Allocation Mismatch"));
        }
        match m.get(ATTR_REQUESTED_TRANSPORT) {
            Ok(v) if v.first() == Some(&17) => {}
            Ok(_) => {
                self.stats.malformed += 1;
                return Err(refuse(CODE_UNSUPPORTED_TRANS_PROTO, "Unsupported Transport Protocol"));
            }
            Err(_) => {
                self.stats.malformed += 1;
                return Err(refuse(CODE_BAD_REQUEST, "Missing REQUESTED-TRANSPORT"));
            }
        }
        if m.contains(ATTR_RESERVATION_TOKEN) {
            // reserved (EVEN-PORT R bit) relay ports are not kept: no token can match
            self.stats.capacity += 1;
            return Err(refuse(CODE_INSUFFICIENT_CAPACITY, "Insufficient Capacity"));
        }
        let v6 = match m.get(ATTR_REQUESTED_ADDRESS_FAMILY).ok().and_then(|v| v.first().copied()) {
            None | Some(1) => false,
            Some(2) => true,
            Some(_) => {
                self.stats.malformed += 1;
                return Err(refuse(CODE_ADDR_FAMILY_NOT_SUPPORTED, "Address Family not Supported"));
            }
        };
        // quotas: per user and in total, across workers
        {
            let lim = &self.shared.limits;
            let Ok(mut l) = self.shared.ledger.lock() else {
                return Err(refuse(CODE_SERVER_ERROR, "Server Error"));
            };
            if lim.total_quota != 0 && l.total >= lim.total_quota {
                self.stats.capacity += 1;
                return Err(refuse(CODE_INSUFFICIENT_CAPACITY, "Insufficient Capacity"));
            }
            let n = l.users.get(user).copied().unwrap_or(0);
            if lim.user_quota != 0 && n >= lim.user_quota {
                self.stats.quota += 1;
                return Err(refuse(CODE_ALLOC_QUOTA_REACHED, "Allocation Quota Reached"));
            }
            l.total += 1;
            *l.users.entry(user.to_string()).or_insert(0) += 1;
        }
        let Some((relay, relay_addr)) = relays.open(v6) else {
            if let Ok(mut l) = self.shared.ledger.lock() {
                l.total = l.total.saturating_sub(1);
                if let Some(n) = l.users.get_mut(user) {
                    *n = n.saturating_sub(1);
                }
            }
            self.stats.capacity += 1;
            return Err(if v6 {
                refuse(CODE_ADDR_FAMILY_NOT_SUPPORTED, "Address Family not Supported")
            } else {
                refuse(CODE_INSUFFICIENT_CAPACITY, "Insufficient Capacity")
            });
        };
        let life = match self.lifetime(m) {
            0 => self.shared.limits.default_lifetime_ns,
            l => l,
        };
        let crypto = self.crypto.crypto();
        let relayed = XorMappedAddress { ip: relay_addr.ip(), port: relay_addr.port() };
        let mapped = XorMappedAddress { ip: client.addr.ip(), port: client.addr.port() };
        let response = build(m, CLASS_SUCCESS_RESPONSE, |r| {
            relayed.add_to_as(r, ATTR_XOR_RELAYED_ADDRESS).ok();
            r.add(ATTR_LIFETIME, &((life / SEC) as u32).to_be_bytes());
            mapped.add_to(r).ok();
            MessageIntegrity::new_raw_integrity_with_provider(key.to_vec(), crypto).add_to(r).ok();
            FINGERPRINT.add_to(r).ok();
        });
        let rate = self.shared.limits.bytes_per_sec;
        let burst = rate.max(3000);
        let a = Alloc {
            client,
            relay,
            relay_addr,
            user: user.to_string(),
            expires: now + life,
            txid: m.transaction_id.0,
            response: response.clone(),
            perms: Vec::new(),
            channels: Vec::new(),
            up: Bucket { tokens: burst, last: now },
            down: Bucket { tokens: burst, last: now },
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.allocs[i] = Some(a);
                i
            }
            None => {
                self.allocs.push(Some(a));
                self.allocs.len() - 1
            }
        };
        self.by_client.insert(client, i);
        self.by_relay.insert(relay, i);
        self.stats.allocations_created += 1;
        Ok(response)
    }

    fn alloc_of(&mut self, client: Client) -> Result<usize, Refusal> {
        match self.by_client.get(&client) {
            Some(&i) => Ok(i),
            None => {
                self.stats.mismatches += 1;
                Err(refuse(CODE_ALLOC_MISMATCH, "Allocation Mismatch"))
            }
        }
    }

    fn ok(&self, m: &Message, key: &[u8], lifetime: Option<u64>) -> Vec<u8> {
        let crypto = self.crypto.crypto();
        build(m, CLASS_SUCCESS_RESPONSE, |r| {
            if let Some(l) = lifetime {
                r.add(ATTR_LIFETIME, &((l / SEC) as u32).to_be_bytes());
            }
            MessageIntegrity::new_raw_integrity_with_provider(key.to_vec(), crypto).add_to(r).ok();
            FINGERPRINT.add_to(r).ok();
        })
    }

    fn refresh(&mut self, client: Client, m: &Message, key: &[u8], now: u64, relays: &mut dyn Relays) -> Result<Vec<u8>, Refusal> {
        let i = self.alloc_of(client)?;
        let life = self.lifetime(m);
        if life == 0 {
            self.remove(i, relays);
            self.stats.allocations_deleted += 1;
            return Ok(self.ok(m, key, Some(0)));
        }
        if let Some(a) = self.allocs.get_mut(i).and_then(Option::as_mut) {
            a.expires = now + life;
        }
        Ok(self.ok(m, key, Some(life)))
    }

    /// The XOR-PEER-ADDRESS values of `m`, each checked against the family of the
    /// relayed address and the peer policy.
    fn peers(&mut self, m: &Message, relay_v4: bool) -> Result<Vec<SocketAddr>, Refusal> {
        let mut out = vec![];
        for a in m.attributes.0.iter().filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS) {
            let Some(p) = xor_addr(&a.value, &m.transaction_id.0) else {
                self.stats.malformed += 1;
                return Err(refuse(CODE_BAD_REQUEST, "Bad XOR-PEER-ADDRESS"));
            };
            if p.is_ipv4() != relay_v4 {
                self.stats.malformed += 1;
                return Err(refuse(CODE_PEER_ADDR_FAMILY_MISMATCH, "Peer Address Family Mismatch"));
            }
            if let Err(why) = self.shared.policy.check(p.ip(), p.port()) {
                self.stats.denied_peers += 1;
                tracing::debug!(peer = %p, why, "TURN peer refused");
                return Err(refuse(CODE_FORBIDDEN, "Forbidden"));
            }
            out.push(p);
        }
        if out.is_empty() {
            self.stats.malformed += 1;
            return Err(refuse(CODE_BAD_REQUEST, "Missing XOR-PEER-ADDRESS"));
        }
        Ok(out)
    }

    fn create_permission(&mut self, client: Client, m: &Message, key: &[u8], now: u64) -> Result<Vec<u8>, Refusal> {
        let i = self.alloc_of(client)?;
        let v4 = self.allocs.get(i).and_then(Option::as_ref).map_or(true, |a| a.relay_addr.is_ipv4());
        let peers = self.peers(m, v4)?;
        let Some(a) = self.allocs.get_mut(i).and_then(Option::as_mut) else {
            return Err(refuse(CODE_SERVER_ERROR, "Server Error"));
        };
        for p in peers {
            permit(a, p.ip(), now)?;
        }
        Ok(self.ok(m, key, None))
    }

    fn channel_bind(&mut self, client: Client, m: &Message, key: &[u8], now: u64) -> Result<Vec<u8>, Refusal> {
        let i = self.alloc_of(client)?;
        let number = match m.get(ATTR_CHANNEL_NUMBER).ok().and_then(|v| v.get(0..2).map(|b| u16::from_be_bytes([b[0], b[1]]))) {
            Some(n) if CHANNELS.contains(&n) => n,
            _ => {
                self.stats.malformed += 1;
                return Err(refuse(CODE_BAD_REQUEST, "Bad CHANNEL-NUMBER"));
            }
        };
        let v4 = self.allocs.get(i).and_then(Option::as_ref).map_or(true, |a| a.relay_addr.is_ipv4());
        let peers = self.peers(m, v4)?;
        let [peer] = peers[..] else {
            self.stats.malformed += 1;
            return Err(refuse(CODE_BAD_REQUEST, "One XOR-PEER-ADDRESS expected"));
        };
        let Some(a) = self.allocs.get_mut(i).and_then(Option::as_mut) else {
            return Err(refuse(CODE_SERVER_ERROR, "Server Error"));
        };
        // a number stays with its peer and a peer with its number (RFC 8656 §11.2)
        if a.channels.iter().any(|c| (c.number == number) != (c.peer == peer)) {
            self.stats.malformed += 1;
            return Err(refuse(CODE_BAD_REQUEST, "Channel bound otherwise"));
        }
        let full = a.channels.len() >= MAX_CHANNELS;
        match a.channels.iter_mut().find(|c| c.number == number) {
            Some(c) => c.expires = now + CHANNEL_NS,
            None if full => {
                self.stats.capacity += 1;
                return Err(refuse(CODE_INSUFFICIENT_CAPACITY, "Insufficient Capacity"));
            }
            None => a.channels.push(Channel { number, peer, expires: now + CHANNEL_NS }),
        }
        permit(a, peer.ip(), now)?;
        Ok(self.ok(m, key, None))
    }
}

fn permit(a: &mut Alloc, ip: IpAddr, now: u64) -> Result<(), Refusal> {
    match a.perms.iter_mut().find(|(p, _)| *p == ip) {
        Some(p) => p.1 = now + PERMISSION_NS,
        None => {
            a.perms.retain(|&(_, e)| e > now);
            if a.perms.len() >= MAX_PERMISSIONS {
                return Err(refuse(CODE_INSUFFICIENT_CAPACITY, "Insufficient Capacity"));
            }
            a.perms.push((ip, now + PERMISSION_NS));
        }
    }
    Ok(())
}

/// Attributes a request may carry that we understand (or knowingly ignore).
fn known(t: AttrType) -> bool {
    [
        ATTR_USERNAME,
        ATTR_MESSAGE_INTEGRITY,
        ATTR_REALM,
        ATTR_NONCE,
        ATTR_CHANNEL_NUMBER,
        ATTR_LIFETIME,
        ATTR_XOR_PEER_ADDRESS,
        ATTR_DATA,
        ATTR_EVEN_PORT,
        ATTR_REQUESTED_TRANSPORT,
        ATTR_DONT_FRAGMENT,
        ATTR_RESERVATION_TOKEN,
        ATTR_REQUESTED_ADDRESS_FAMILY,
        ATTR_PRIORITY,
        ATTR_USE_CANDIDATE,
    ]
    .contains(&t)
}

/// A response of `class` to `req` (same method and transaction).
fn build(req: &Message, class: MessageClass, fill: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut out = Message::new();
    out.typ = MessageType::new(req.typ.method, class);
    out.transaction_id = req.transaction_id;
    out.write_header();
    fill(&mut out);
    out.raw
}

/// Attributes of a STUN message, walked in place: (type, value start, value end).
struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    txid: [u8; 12],
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8]) -> Option<Walk<'a>> {
        let len = u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]) as usize;
        if buf.get(4..8)? != COOKIE || buf.len() < 20 + len || len % 4 != 0 {
            return None;
        }
        let txid = <[u8; 12]>::try_from(buf.get(8..20)?).ok()?;
        Some(Walk { buf, pos: 20, end: 20 + len, txid })
    }
}

impl Iterator for Walk<'_> {
    type Item = (u16, usize, usize);
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos + 4 > self.end {
            return None;
        }
        let b = self.buf.get(self.pos..self.pos + 4)?;
        let typ = u16::from_be_bytes([b[0], b[1]]);
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        let start = self.pos + 4;
        if start + len > self.end {
            self.pos = self.end;
            return None;
        }
        self.pos = start + ((len + 3) & !3);
        Some((typ, start, start + len))
    }
}

/// Decodes an XOR-…-ADDRESS value.
pub fn xor_addr(v: &[u8], txid: &[u8; 12]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]) ^ 0x2112;
    match *v.get(1)? {
        1 => {
            let a = v.get(4..8)?;
            let ip = [a[0] ^ COOKIE[0], a[1] ^ COOKIE[1], a[2] ^ COOKIE[2], a[3] ^ COOKIE[3]];
            Some(SocketAddr::new(IpAddr::from(ip), port))
        }
        2 => {
            let a = v.get(4..20)?;
            let mut ip = [0u8; 16];
            for (k, b) in ip.iter_mut().enumerate() {
                let x = if k < 4 { COOKIE[k] } else { txid[k - 4] };
                *b = a[k] ^ x;
            }
            Some(SocketAddr::new(IpAddr::from(ip), port))
        }
        _ => None,
    }
}

/// Writes an XOR-…-ADDRESS value (8 bytes for IPv4, 20 for IPv6) into `out`.
fn write_xor_addr(out: &mut [u8], a: SocketAddr, txid: &[u8; 12]) {
    out[0] = 0;
    out[1] = if a.is_ipv4() { 1 } else { 2 };
    out[2..4].copy_from_slice(&(a.port() ^ 0x2112).to_be_bytes());
    match a.ip() {
        IpAddr::V4(v4) => {
            for (k, b) in v4.octets().iter().enumerate() {
                out[4 + k] = b ^ COOKIE[k];
            }
        }
        IpAddr::V6(v6) => {
            for (k, b) in v6.octets().iter().enumerate() {
                out[4 + k] = b ^ if k < 4 { COOKIE[k] } else { txid[k - 4] };
            }
        }
    }
}
