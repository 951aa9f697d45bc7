//! ICE-lite (RFC 8445 §7.3, lite): the STUN server side of connectivity checks on one
//! media socket, and the nomination that tells the relay where the party is.
//!
//! A lite agent never sends checks. It answers every authenticated Binding request on
//! its host candidate with a success response (XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY with
//! our password, FINGERPRINT), from the first check on, even before the answer with the
//! party's credentials has arrived (§7.3: "MUST respond immediately"). A request with
//! USE-CANDIDATE nominates its source: media goes there from then on, and a later
//! nomination of another source moves it (§7.3.2, §8.2). Sources that passed an
//! authenticated check are remembered as *validated*: DTLS is accepted only from them.
//! Answering checks for the whole call is what consent freshness (RFC 7675) asks of a
//! lite agent; the time of the last one is kept for `query`.
//!
//! STUN messages are parsed and built with `rtc-stun` (the webrtc-rs sans-I/O generation).

use rtc_crypto::RTCCrypto;
use rtc_stun::attributes::{ATTR_FINGERPRINT, ATTR_MESSAGE_INTEGRITY, ATTR_USERNAME, ATTR_USE_CANDIDATE};
use rtc_stun::error_code::{ErrorCodeAttribute, CODE_BAD_REQUEST, CODE_UNAUTHORIZED};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::{Message, Setter, BINDING_ERROR, BINDING_SUCCESS, CLASS_INDICATION, CLASS_REQUEST, METHOD_BINDING};
use rtc_stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;

/// Short-term credentials of one side (`a=ice-ufrag`, `a=ice-pwd`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub ufrag: String,
    pub pwd: String,
}

impl Creds {
    /// Fresh local credentials: 8 ufrag characters (48 bits), 24 password characters
    /// (144 bits), from the ICE alphabet (RFC 8445 §5.3 asks for ≥ 24 and ≥ 128 bits).
    pub fn generate() -> Result<Creds, String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        let mut raw = [0u8; 32];
        provider.random().fill(&mut raw).map_err(|e| format!("random: {e}"))?;
        let s: String = raw.iter().map(|b| ALPHABET[(b & 63) as usize] as char).collect();
        Ok(Creds { ufrag: s[..8].to_string(), pwd: s[8..].to_string() })
    }
}

/// What one STUN datagram did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid check: send the response back to the source. `nominated` when it carried
    /// USE-CANDIDATE and moved (or set) the selected address.
    Answer { reply: Vec<u8>, nominated: bool },
    /// A check that failed authentication or was malformed: send the error response
    /// (400 / 401, no integrity) and count it.
    Reject { reply: Vec<u8>, reason: &'static str },
    /// Not answered: an indication (keepalive), a response, or unparseable bytes.
    Ignore { error: Option<&'static str> },
}

/// RFC 7675 §5.1: consent expires 30 s after the last successful check.
pub const CONSENT_TIMEOUT_NS: u64 = 30_000_000_000;

/// How many validated source addresses a socket remembers (host, prflx, relayed, both
/// families: a handful; the oldest goes first).
const MAX_VALIDATED: usize = 8;

/// The ICE-lite responder of one socket.
#[derive(Debug)]
pub struct IceLite {
    pub local: Creds,
    /// The credentials before the last restart: still accepted. A restarting browser
    /// keeps checking the old pair (consent) until the new one is nominated, and
    /// libwebrtc keeps the old remote ufrag on a connection to an unchanged candidate
    /// address (an ICE-lite agent's candidate does not move), so the new pair can arrive
    /// with the old credentials.
    previous: Option<Creds>,
    /// The source nominated by the controlling peer: media goes here.
    selected: Option<SocketAddr>,
    validated: Vec<SocketAddr>,
    /// Monotonic ns of the last authenticated check (consent), 0 = none.
    pub last_check_ns: u64,
    pub checks: u64,
}

impl IceLite {
    pub fn new(local: Creds) -> IceLite {
        IceLite { local, previous: None, selected: None, validated: Vec::new(), last_check_ns: 0, checks: 0 }
    }

    /// New local credentials (an ICE restart); the previous ones stay valid (see
    /// `previous`), and the selected address stays until the peer nominates again.
    pub fn restart(&mut self, local: Creds) {
        if local != self.local {
            // sources validated so far stay valid: a restarting browser may already
            // have checked its new port with the previous credentials
            self.previous = Some(std::mem::replace(&mut self.local, local));
        }
    }

    /// Consent (RFC 7675) is lost: no authenticated check for [`CONSENT_TIMEOUT_NS`]
    /// since the last one. Nothing is sent to the party until it checks and nominates
    /// again. Returns whether this call withdrew a selection.
    pub fn expire_consent(&mut self, now_ns: u64) -> bool {
        if self.selected.is_none() || self.last_check_ns == 0 || now_ns.saturating_sub(self.last_check_ns) < CONSENT_TIMEOUT_NS {
            return false;
        }
        self.selected = None;
        self.validated.clear();
        true
    }

    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// Whether `a` has passed an authenticated check (DTLS is accepted only from these).
    #[inline]
    pub fn is_validated(&self, a: SocketAddr) -> bool {
        self.validated.contains(&a)
    }

    /// One datagram whose first byte is 0–3 (RFC 7983), from `from`.
    pub fn on_stun(&mut self, pkt: &[u8], from: SocketAddr, now_ns: u64, crypto: &dyn RTCCrypto) -> Outcome {
        let mut m = Message { raw: pkt.to_vec(), ..Message::default() };
        if m.decode().is_err() {
            return Outcome::Ignore { error: Some("malformed STUN") };
        }
        if m.typ.method != METHOD_BINDING {
            return Outcome::Ignore { error: Some("STUN method other than Binding") };
        }
        if m.typ.class == CLASS_INDICATION {
            return Outcome::Ignore { error: None }; // keepalive (RFC 8445 §11)
        }
        if m.typ.class != CLASS_REQUEST {
            return Outcome::Ignore { error: Some("unexpected STUN response") };
        }
        if m.contains(ATTR_FINGERPRINT) && FINGERPRINT.check(&m).is_err() {
            return Outcome::Ignore { error: Some("STUN FINGERPRINT mismatch") };
        }
        let Some(user) = signed(&m, ATTR_USERNAME) else {
            return self.reject(&m, CODE_BAD_REQUEST, "Bad Request", "check without USERNAME");
        };
        if !m.contains(ATTR_MESSAGE_INTEGRITY) {
            return self.reject(&m, CODE_BAD_REQUEST, "Bad Request", "check without MESSAGE-INTEGRITY");
        }
        // USERNAME is "<our ufrag>:<their ufrag>"; only the first half is ours to check
        let ours = user.split(|&b| b == b':').next().unwrap_or(&[]);
        let creds = [Some(&self.local), self.previous.as_ref()].into_iter().flatten().find(|c| ours == c.ufrag.as_bytes());
        let Some(creds) = creds.filter(|_| user.len() > ours.len()) else {
            return self.reject(&m, CODE_UNAUTHORIZED, "Unauthorized", "check with a wrong ufrag");
        };
        let pwd = creds.pwd.clone();
        if MessageIntegrity::check(&mut m, pwd.as_bytes(), crypto).is_err() {
            return self.reject(&m, CODE_UNAUTHORIZED, "Unauthorized", "check with a wrong password");
        }
        self.checks += 1;
        self.last_check_ns = now_ns;
        if !self.validated.contains(&from) {
            if self.validated.len() == MAX_VALIDATED {
                let keep = self.selected;
                if let Some(i) = self.validated.iter().position(|a| Some(*a) != keep) {
                    self.validated.remove(i);
                }
            }
            self.validated.push(from);
        }
        let use_candidate = signed(&m, ATTR_USE_CANDIDATE).is_some();
        let nominated = use_candidate && self.selected != Some(from);
        if use_candidate {
            self.selected = Some(from);
        }
        let xor = XorMappedAddress { ip: from.ip(), port: from.port() };
        let integrity = MessageIntegrity::new_short_term_integrity_with_provider(pwd, crypto);
        match build(&m, BINDING_SUCCESS, &[&xor, &integrity, &FINGERPRINT]) {
            Some(reply) => Outcome::Answer { reply, nominated },
            None => Outcome::Ignore { error: Some("could not build a STUN response") },
        }
    }

    fn reject(&self, m: &Message, code: rtc_stun::error_code::ErrorCode, phrase: &str, reason: &'static str) -> Outcome {
        let err = ErrorCodeAttribute { code, reason: phrase.as_bytes().to_vec() };
        match build(m, BINDING_ERROR, &[&err, &FINGERPRINT]) {
            Some(reply) => Outcome::Reject { reply, reason },
            None => Outcome::Ignore { error: Some(reason) },
        }
    }
}

/// The value of the first `t` among the attributes MESSAGE-INTEGRITY covers: those after
/// it (FINGERPRINT aside) are not authenticated and are ignored (RFC 8489 §14.5), so a
/// USE-CANDIDATE appended to a captured check nominates nothing.
fn signed(m: &Message, t: rtc_stun::attributes::AttrType) -> Option<&[u8]> {
    m.attributes.0.iter().take_while(|a| a.typ != ATTR_MESSAGE_INTEGRITY).find(|a| a.typ == t).map(|a| a.value.as_slice())
}

/// A response to `req` (same transaction ID) with the given attributes, in order.
fn build(req: &Message, typ: rtc_stun::message::MessageType, attrs: &[&dyn Setter]) -> Option<Vec<u8>> {
    let mut out = Message::new();
    out.typ = typ;
    out.transaction_id = req.transaction_id;
    out.write_header();
    for a in attrs {
        a.add_to(&mut out).ok()?;
    }
    Some(out.raw)
}

/// A connectivity check as a controlling full agent sends it (USERNAME, PRIORITY,
/// ICE-CONTROLLING, optionally USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT): for the
/// tests, the load tool and the benches, which play the browser.
pub fn binding_request(user: &str, pwd: &str, use_candidate: bool, crypto: &dyn RTCCrypto) -> Vec<u8> {
    use rtc_stun::attributes::{ATTR_ICE_CONTROLLING, ATTR_PRIORITY};
    let mut m = Message::new();
    m.typ = rtc_stun::message::BINDING_REQUEST;
    let _ = m.new_transaction_id();
    m.write_header();
    m.add(ATTR_USERNAME, user.as_bytes());
    m.add(ATTR_PRIORITY, &1_845_501_695u32.to_be_bytes());
    m.add(ATTR_ICE_CONTROLLING, &0x1234_5678_9abc_def0u64.to_be_bytes());
    if use_candidate {
        m.add(ATTR_USE_CANDIDATE, &[]);
    }
    let _ = MessageIntegrity::new_short_term_integrity_with_provider(pwd.to_string(), crypto).add_to(&mut m);
    let _ = FINGERPRINT.add_to(&mut m);
    m.raw
}

/// Whether `reply` is a success response that authenticates with `pwd` (the browser's
/// side of a check).
pub fn is_success_for(reply: &[u8], pwd: &str, crypto: &dyn RTCCrypto) -> bool {
    let mut m = Message { raw: reply.to_vec(), ..Message::default() };
    m.decode().is_ok()
        && m.typ == BINDING_SUCCESS
        && MessageIntegrity::check(&mut m, pwd.as_bytes(), crypto).is_ok()
        && FINGERPRINT.check(&m).is_ok()
}

/// The SDP candidate line of a lite host candidate (RFC 8445 §5.1.2.1: type preference
/// 126, local preference 65535; foundation per address family).
/// eagw's candidate as a `relay` candidate (ng `ICE=force-relay`): type preference 0
/// (RFC 8445 §5.1.2.2), its own foundation, and `raddr`/`rport` (RFC 8839 §5.1: for a
/// relayed candidate, the mapped address it was obtained from) set to the same advertised
/// transport address, since eagw relays from the address it advertises (no internal
/// address leaks behind a 1:1 NAT).
pub fn relay_candidate(component: u8, addr: SocketAddr) -> String {
    let prio: u32 = (65535 << 8) | (256 - component as u32);
    let foundation = if addr.is_ipv4() { 3 } else { 4 };
    let (ip, port) = (addr.ip(), addr.port());
    format!("candidate:{foundation} {component} UDP {prio} {ip} {port} typ relay raddr {ip} rport {port}")
}

pub fn host_candidate(component: u8, addr: SocketAddr) -> String {
    let prio: u32 = (126 << 24) | (65535 << 8) | (256 - component as u32);
    let foundation = if addr.is_ipv4() { 1 } else { 2 };
    format!("candidate:{foundation} {component} UDP {prio} {} {} typ host", addr.ip(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtc_stun::message::Getter;
    use rtc_stun::message::{CLASS_ERROR_RESPONSE, CLASS_SUCCESS_RESPONSE};

    fn check(user: &str, pwd: &str, use_candidate: bool) -> Vec<u8> {
        binding_request(user, pwd, use_candidate, provider().crypto())
    }

    fn provider() -> std::sync::Arc<dyn rtc_crypto::RTCCryptoProvider> {
        rtc_crypto::default_provider().unwrap()
    }

    fn decode(b: &[u8]) -> Message {
        let mut m = Message { raw: b.to_vec(), ..Message::default() };
        m.decode().unwrap();
        m
    }

    #[test]
    fn answers_nominates_and_moves() {
        let p = provider();
        let mut ice = IceLite::new(Creds { ufrag: "loca".into(), pwd: "localpassword-0123456789".into() });
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        // a check before the party's credentials are known is answered at once
        let Outcome::Answer { reply, nominated } = ice.on_stun(&check("loca:rem", "localpassword-0123456789", false), a, 1, p.crypto()) else { panic!() };
        assert!(!nominated);
        assert_eq!(ice.selected(), None);
        assert!(ice.is_validated(a) && !ice.is_validated(b));
        assert!(is_success_for(&reply, "localpassword-0123456789", p.crypto()));
        let mut r = decode(&reply);
        assert_eq!(r.typ.class, CLASS_SUCCESS_RESPONSE);
        MessageIntegrity::check(&mut r, b"localpassword-0123456789", p.crypto()).unwrap();
        FINGERPRINT.check(&r).unwrap();
        let mut x = XorMappedAddress::default();
        x.get_from_as(&r, rtc_stun::attributes::ATTR_XORMAPPED_ADDRESS).unwrap();
        assert_eq!(SocketAddr::new(x.ip, x.port), a);
        // USE-CANDIDATE selects; a later nomination of another source moves the selection
        assert!(matches!(ice.on_stun(&check("loca:rem", "localpassword-0123456789", true), a, 2, p.crypto()), Outcome::Answer { nominated: true, .. }));
        assert_eq!(ice.selected(), Some(a));
        assert!(matches!(ice.on_stun(&check("loca:rem", "localpassword-0123456789", true), a, 3, p.crypto()), Outcome::Answer { nominated: false, .. }));
        assert!(matches!(ice.on_stun(&check("loca:rem", "localpassword-0123456789", true), b, 4, p.crypto()), Outcome::Answer { nominated: true, .. }));
        assert_eq!(ice.selected(), Some(b));
        assert_eq!((ice.checks, ice.last_check_ns), (4, 4));
        // consent: 30 s without a check withdraws the selection and the validations
        assert!(!ice.expire_consent(4 + CONSENT_TIMEOUT_NS - 1));
        assert!(ice.expire_consent(4 + CONSENT_TIMEOUT_NS));
        assert_eq!(ice.selected(), None);
        assert!(!ice.is_validated(a) && !ice.is_validated(b));
    }

    #[test]
    fn wrong_credentials_are_refused_without_effect() {
        let p = provider();
        let mut ice = IceLite::new(Creds { ufrag: "loca".into(), pwd: "localpassword-0123456789".into() });
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        for (pkt, code) in [
            (check("loca:rem", "wrong-password-0123456789", true), 401),
            (check("other:rem", "localpassword-0123456789", true), 401),
            (check("loca", "localpassword-0123456789", true), 401),
        ] {
            let Outcome::Reject { reply, .. } = ice.on_stun(&pkt, a, 1, p.crypto()) else { panic!() };
            let r = decode(&reply);
            assert_eq!(r.typ.class, CLASS_ERROR_RESPONSE);
            let mut e = ErrorCodeAttribute::default();
            e.get_from(&r).unwrap();
            assert_eq!(e.code.0, code);
        }
        assert_eq!(ice.selected(), None);
        assert!(!ice.is_validated(a));
        assert!(matches!(ice.on_stun(b"\x00\x01\x00\x00garbage", a, 1, p.crypto()), Outcome::Ignore { error: Some(_) }));
        // after a restart both the new and the previous credentials work, nothing older
        ice.restart(Creds { ufrag: "new1".into(), pwd: "newpassword-0123456789ab".into() });
        assert!(matches!(ice.on_stun(&check("loca:rem", "localpassword-0123456789", true), a, 1, p.crypto()), Outcome::Answer { .. }));
        assert!(matches!(ice.on_stun(&check("new1:rem", "newpassword-0123456789ab", true), a, 1, p.crypto()), Outcome::Answer { .. }));
        assert!(matches!(ice.on_stun(&check("loca:rem", "newpassword-0123456789ab", true), a, 1, p.crypto()), Outcome::Reject { .. }));
        ice.restart(Creds { ufrag: "new2".into(), pwd: "new2password-0123456789a".into() });
        assert!(matches!(ice.on_stun(&check("loca:rem", "localpassword-0123456789", true), a, 1, p.crypto()), Outcome::Reject { .. }));
        assert!(matches!(ice.on_stun(&check("new1:rem", "newpassword-0123456789ab", true), a, 1, p.crypto()), Outcome::Answer { .. }));
    }

    #[test]
    fn attributes_after_integrity_are_ignored() {
        let p = provider();
        let mut ice = IceLite::new(Creds { ufrag: "loca".into(), pwd: "localpassword-0123456789".into() });
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        // a genuine check without USE-CANDIDATE, with USE-CANDIDATE appended after
        // MESSAGE-INTEGRITY (and FINGERPRINT dropped, as an attacker would): answered, no nomination
        let mut m = check("loca:rem", "localpassword-0123456789", false);
        m.truncate(m.len() - 8);
        m.extend_from_slice(&[0x00, 0x25, 0x00, 0x00]);
        let len = (m.len() - 20) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(ice.on_stun(&m, a, 1, p.crypto()), Outcome::Answer { nominated: false, .. }));
        assert_eq!(ice.selected(), None);
        assert!(ice.is_validated(a));
    }

    #[test]
    fn candidate_line() {
        assert_eq!(host_candidate(1, "10.0.0.1:30000".parse().unwrap()), "candidate:1 1 UDP 2130706431 10.0.0.1 30000 typ host");
    }
}
