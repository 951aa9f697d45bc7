//! TURN long-term credentials (RFC 8489 §9.2): users from config, TURN REST API ephemeral
//! credentials (draft-uberti-behave-turn-rest: username `expiry:user`, password
//! `base64(HMAC-SHA1(secret, username))`), and stateless nonces that expire.
//!
//! A nonce is `<expiry ns, 16 hex><tag, 16 hex>` where the tag is an HMAC-SHA1 of the
//! expiry under a key drawn at start: any worker can check any nonce without shared
//! state, and a nonce from before a restart is simply stale (438, the client retries).

use base64::Engine;
use hmac::{Hmac, Mac};
use rtc_crypto::RTCCrypto;
use rtc_stun::integrity::MessageIntegrity;
use sha1::Sha1;
use std::collections::HashMap;

type HmacSha1 = Hmac<Sha1>;

/// What a username resolves to.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The long-term key MD5(username:realm:password).
    Key(Vec<u8>),
    /// A REST username whose expiry has passed.
    Expired,
    Unknown,
}

pub struct Credentials {
    pub realm: String,
    /// Users from config: name → long-term key.
    users: HashMap<String, Vec<u8>>,
    rest_secret: Option<Vec<u8>>,
    nonce_key: [u8; 32],
    pub nonce_ns: u64,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ realm: {:?}, users: {}, rest: {} }}", self.realm, self.users.len(), self.rest_secret.is_some())
    }
}

/// MD5(username:realm:password).
pub fn long_term_key(user: &str, realm: &str, password: &str, crypto: &dyn RTCCrypto) -> Result<Vec<u8>, String> {
    MessageIntegrity::long_term_integrity_key(user.into(), realm.into(), password.into(), crypto).map_err(|e| e.to_string())
}

/// The TURN REST password of `username` under `secret`.
pub fn rest_password(secret: &[u8], username: &str) -> String {
    // HMAC takes keys of any length: new_from_slice cannot fail for it
    let mut mac = match HmacSha1::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Credentials {
    pub fn new(
        realm: &str,
        users: &[(String, String)],
        rest_secret: Option<&str>,
        nonce_key: [u8; 32],
        nonce_ns: u64,
        crypto: &dyn RTCCrypto,
    ) -> Result<Credentials, String> {
        let mut map = HashMap::new();
        for (u, p) in users {
            map.insert(u.clone(), long_term_key(u, realm, p, crypto)?);
        }
        Ok(Credentials {
            realm: realm.to_string(),
            users: map,
            rest_secret: rest_secret.filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()),
            nonce_key,
            nonce_ns,
        })
    }

    /// The key for `username`; `unix_now` (seconds) decides whether a REST username has
    /// expired.
    pub fn lookup(&self, username: &str, unix_now: u64, crypto: &dyn RTCCrypto) -> Lookup {
        if let Some(k) = self.users.get(username) {
            return Lookup::Key(k.clone());
        }
        let Some(secret) = &self.rest_secret else {
            return Lookup::Unknown;
        };
        // `expiry:user`, or a bare expiry (coturn accepts both)
        let expiry = username.split(':').next().and_then(|e| e.parse::<u64>().ok());
        let Some(expiry) = expiry else {
            return Lookup::Unknown;
        };
        if expiry <= unix_now {
            return Lookup::Expired;
        }
        match long_term_key(username, &self.realm, &rest_password(secret, username), crypto) {
            Ok(k) => Lookup::Key(k),
            Err(_) => Lookup::Unknown,
        }
    }

    fn tag(&self, expiry: u64) -> u64 {
        let Ok(mut mac) = HmacSha1::new_from_slice(&self.nonce_key) else {
            return 0;
        };
        mac.update(&expiry.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let mut t = [0u8; 8];
        t.copy_from_slice(&out[..8]);
        u64::from_be_bytes(t)
    }

    /// A fresh nonce, valid until `now + nonce_ns`.
    pub fn nonce(&self, now: u64) -> String {
        let expiry = now + self.nonce_ns;
        format!("{expiry:016x}{:016x}", self.tag(expiry))
    }

    /// Whether `nonce` is one of ours and still valid at `now`.
    pub fn nonce_valid(&self, nonce: &[u8], now: u64) -> bool {
        if nonce.len() != 32 || !nonce.iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        let Ok(s) = std::str::from_utf8(nonce) else {
            return false;
        };
        let (Ok(expiry), Ok(tag)) = (u64::from_str_radix(&s[..16], 16), u64::from_str_radix(&s[16..], 16)) else {
            return false;
        };
        tag == self.tag(expiry) && now < expiry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        let p = rtc_crypto::default_provider().unwrap();
        Credentials::new("eagw", &[("demo".into(), "demo-password".into())], Some("s3cret"), [7; 32], 10_000_000_000, p.crypto()).unwrap()
    }

    #[test]
    fn users_and_rest_credentials() {
        let p = rtc_crypto::default_provider().unwrap();
        let c = creds();
        let k = long_term_key("demo", "eagw", "demo-password", p.crypto()).unwrap();
        assert_eq!(c.lookup("demo", 0, p.crypto()), Lookup::Key(k));
        assert_eq!(c.lookup("nobody", 0, p.crypto()), Lookup::Unknown);
        let user = "2000:alice";
        let k = long_term_key(user, "eagw", &rest_password(b"s3cret", user), p.crypto()).unwrap();
        assert_eq!(c.lookup(user, 1999, p.crypto()), Lookup::Key(k));
        assert_eq!(c.lookup(user, 2000, p.crypto()), Lookup::Expired);
        assert_eq!(c.lookup("x:alice", 0, p.crypto()), Lookup::Unknown);
        // computed independently: `printf 1433895918:gorst | openssl dgst -sha1 -hmac north -binary | base64`
        assert_eq!(rest_password(b"north", "1433895918:gorst"), "Jkoq/bR7DWfoH9c0tHZx2FEf1SM=");
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let c = creds();
        let n = c.nonce(5);
        assert!(c.nonce_valid(n.as_bytes(), 5));
        assert!(c.nonce_valid(n.as_bytes(), 10_000_000_004));
        assert!(!c.nonce_valid(n.as_bytes(), 10_000_000_005));
        let forged = format!("{:016x}{}", u64::MAX, &n[16..]);
        assert!(!c.nonce_valid(forged.as_bytes(), 5));
        assert!(!c.nonce_valid(b"short", 5));
        assert!(!c.nonce_valid("é".repeat(16).as_bytes(), 5));
        let other = Credentials::new("eagw", &[], None, [8; 32], 10_000_000_000, rtc_crypto::default_provider().unwrap().crypto()).unwrap();
        assert!(!other.nonce_valid(n.as_bytes(), 5));
    }
}
