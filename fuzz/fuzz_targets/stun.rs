#![no_main]
//! ICE-lite's STUN path (`IceLite::on_stun`) with datagrams from several source addresses:
//! never panics, and only a check that authenticates with the local password (checked
//! here independently of rtc-stun: HMAC-SHA1 over the bytes before MESSAGE-INTEGRITY)
//! validates an address, is answered, or selects one, and only with an authenticated
//! USE-CANDIDATE (one before MESSAGE-INTEGRITY: RFC 5389 §15.4) does it select.
//!
//! Input: records of `[head, len, payload...]`. `head & 7` picks the source address,
//! `head >> 3 & 1` the kind: 0 sends the payload as it is; 1 builds a signed check from
//! it (`payload[0]` bits: right ufrag, right password, USE-CANDIDATE, FINGERPRINT
//! recomputed at the end) with the rest of the payload appended after the integrity.
use eagw::transport::ice::{binding_request, is_success_for, Creds, IceLite, Outcome};
use libfuzzer_sys::fuzz_target;
use rtc_crypto::{HmacAlgorithm, RTCCryptoProvider};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

const UFRAG: &str = "eagwUfrg";
const PWD: &str = "eagwLocalPassword0123456";

fn provider() -> &'static Arc<dyn RTCCryptoProvider> {
    static P: OnceLock<Arc<dyn RTCCryptoProvider>> = OnceLock::new();
    P.get_or_init(|| rtc_crypto::default_provider().unwrap())
}

/// The attributes of a STUN message as (type, offset of the attribute in the body,
/// value), up to the first one that does not fit; None when the header is not STUN.
fn attributes(pkt: &[u8]) -> Option<Vec<(u16, usize, &[u8])>> {
    if pkt.len() < 20 || pkt[4..8] != [0x21, 0x12, 0xa4, 0x42] {
        return None;
    }
    let len = u16::from_be_bytes([pkt[2], pkt[3]]) as usize;
    let body = pkt.get(20..20 + len)?;
    let mut out = vec![];
    let mut at = 0;
    while at + 4 <= body.len() {
        let t = u16::from_be_bytes([body[at], body[at + 1]]);
        let l = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let Some(v) = body.get(at + 4..at + 4 + l) else { break };
        out.push((t, at, v));
        at += 4 + l.div_ceil(4) * 4;
    }
    Some(out)
}

/// Whether `pkt` is a request that authenticates with our credentials, and whether it
/// carries USE-CANDIDATE inside the authenticated part.
fn authenticated(pkt: &[u8]) -> (bool, bool) {
    let Some(attrs) = attributes(pkt) else { return (false, false) };
    let Some(mi) = attrs.iter().position(|a| a.0 == 0x0008) else { return (false, false) };
    let (_, off, tag) = attrs[mi];
    let before = &attrs[..mi];
    // the first USERNAME is the one that counts, and it must be covered by the HMAC
    let user_ok = attrs.iter().find(|a| a.0 == 0x0006).is_some_and(|a| a.1 < off && a.2.starts_with(format!("{UFRAG}:").as_bytes()));
    if tag.len() != 20 || !user_ok {
        return (false, false);
    }
    let mut head = pkt[..20 + off].to_vec();
    head[2..4].copy_from_slice(&((off + 24) as u16).to_be_bytes());
    let mut mac = provider().crypto().new_hmac(HmacAlgorithm::Sha1, PWD.as_bytes()).unwrap();
    let ok = mac.verify(&[&head], tag).is_ok();
    (ok, ok && before.iter().any(|a| a.0 == 0x0025))
}

/// A signed check with the rest of `p` appended after MESSAGE-INTEGRITY as raw
/// attribute bytes (the header's length follows), and FINGERPRINT recomputed if asked.
fn signed(p: &[u8]) -> Vec<u8> {
    let flags = p.first().copied().unwrap_or(0);
    let user = if flags & 1 != 0 { format!("{UFRAG}:brws") } else { "someone:brws".to_string() };
    let pwd = if flags & 2 != 0 { PWD } else { "notTheLocalPassword01234" };
    let mut m = binding_request(&user, pwd, flags & 4 != 0, provider().crypto());
    m.truncate(m.len() - 8); // FINGERPRINT
    let tail = p.get(1..).unwrap_or(&[]);
    m.extend_from_slice(&tail[..tail.len() & !3]);
    let body = (m.len() - 20) as u16;
    m[2..4].copy_from_slice(&body.to_be_bytes());
    if flags & 8 != 0 {
        // FINGERPRINT: CRC-32 of the message before it, XOR 0x5354554e (RFC 5389 §15.5)
        m[2..4].copy_from_slice(&(body + 8).to_be_bytes());
        let crc = crc32(&m) ^ 0x5354_554e;
        m.extend_from_slice(&[0x80, 0x28, 0, 4]);
        m.extend_from_slice(&crc.to_be_bytes());
    }
    m
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xedb8_8320 } else { c >> 1 };
        }
    }
    !c
}

fuzz_target!(|data: &[u8]| {
    let crypto = provider().crypto();
    let mut ice = IceLite::new(Creds { ufrag: UFRAG.into(), pwd: PWD.into() });
    let mut rest = data;
    let mut now = 1;
    while rest.len() >= 2 {
        let (head, len) = (rest[0], rest[1] as usize);
        let payload = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[2 + payload.len()..];
        let from = SocketAddr::from(([192, 0, 2, 1 + (head & 7)], 40000 + (head & 7) as u16));
        let pkt = if head >> 3 & 1 == 1 { signed(payload) } else { payload.to_vec() };
        let (auth, nominate) = authenticated(&pkt);
        let (sel0, val0, checks0) = (ice.selected(), ice.is_validated(from), ice.checks);
        now += 1;
        match ice.on_stun(&pkt, from, now, crypto) {
            Outcome::Answer { reply, nominated } => {
                assert!(auth, "answered a check that does not authenticate");
                assert!(is_success_for(&reply, PWD, crypto), "the success response does not authenticate");
                assert!(ice.is_validated(from) && ice.checks == checks0 + 1 && ice.last_check_ns == now);
                assert_eq!(nominated, nominate && sel0 != Some(from));
                assert_eq!(ice.selected(), if nominate { Some(from) } else { sel0 }, "selection moved without an authenticated USE-CANDIDATE");
            }
            Outcome::Reject { reply, .. } => {
                assert!(!auth, "refused a check that authenticates");
                assert!(reply.len() >= 20 && reply[0] == 0x01 && reply[1] == 0x11, "not a Binding error response");
                assert_eq!((ice.selected(), ice.is_validated(from), ice.checks), (sel0, val0, checks0));
            }
            Outcome::Ignore { .. } => {
                assert_eq!((ice.selected(), ice.is_validated(from), ice.checks), (sel0, val0, checks0));
            }
        }
    }
});
