//! SDES (RFC 4568) `a=crypto` attributes: parse, format, and our own keys.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rtc_srtp::protection_profile::ProtectionProfile;

/// The crypto suites eagw speaks, in the order it offers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
    AeadAes128Gcm,
    AeadAes256Gcm,
}

pub const OFFERED: &[Suite] = &[Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32];

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    pub fn from_name(n: &str) -> Option<Suite> {
        [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32, Suite::AeadAes128Gcm, Suite::AeadAes256Gcm]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(n))
    }

    pub fn profile(self) -> ProtectionProfile {
        match self {
            Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            Suite::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            Suite::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }

    /// Master key + master salt length.
    pub fn material_len(self) -> usize {
        let p = self.profile();
        p.key_len() + p.salt_len()
    }
}

/// SRTP keying for one direction of one stream: a suite and its master key || salt.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKey {
    pub suite: Suite,
    pub material: Vec<u8>,
}

impl std::fmt::Debug for SrtpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SrtpKey({}, <{} bytes>)", self.suite.name(), self.material.len())
    }
}

impl SrtpKey {
    /// A fresh random key for `suite`.
    pub fn generate(suite: Suite) -> Result<SrtpKey, String> {
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        let mut material = vec![0u8; suite.material_len()];
        provider.random().fill(&mut material).map_err(|e| format!("random: {e}"))?;
        Ok(SrtpKey { suite, material })
    }
}

/// One `a=crypto` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub key: SrtpKey,
}

/// Parses the value of `a=crypto:` (`1 AES_CM_128_HMAC_SHA1_80 inline:<base64>[|2^31][|1:1] [params]`).
/// Unknown suites, MKIs (more than one key or an `MKI:` part) and session parameters that
/// change the protocol (`UNENCRYPTED_SRTP` ...) give None: the line is not usable.
pub fn parse_crypto(value: &str) -> Option<Crypto> {
    let mut it = value.split_whitespace();
    let tag: u32 = it.next()?.parse().ok()?;
    let suite = Suite::from_name(it.next()?)?;
    let key_params = it.next()?;
    if it.next().is_some() {
        return None; // session parameters (UNENCRYPTED_*, KDR, ...) are not supported
    }
    if key_params.contains(';') {
        return None; // several keys
    }
    let inline = key_params.strip_prefix("inline:")?;
    let mut parts = inline.split('|');
    let b64 = parts.next()?;
    for p in parts {
        if p.contains(':') {
            return None; // MKI
        }
    }
    let material = STANDARD.decode(b64).ok()?;
    if material.len() != suite.material_len() {
        return None;
    }
    Some(Crypto { tag, key: SrtpKey { suite, material } })
}

pub fn format_crypto(c: &Crypto) -> String {
    format!("crypto:{} {} inline:{}", c.tag, c.key.suite.name(), STANDARD.encode(&c.key.material))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format() {
        let v = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";
        assert!(parse_crypto(v).is_none(), "MKI is not supported");
        let v = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
        let c = parse_crypto(v).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.key.suite, Suite::AesCm128HmacSha1_80);
        assert_eq!(c.key.material.len(), 30);
        let f = format_crypto(&c);
        assert_eq!(f, "crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
        assert_eq!(parse_crypto(f.strip_prefix("crypto:").unwrap()), Some(c));
        assert!(parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=").is_none(), "short key");
        assert!(parse_crypto("1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR").is_none());
        assert!(parse_crypto("x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR").is_none());
        assert!(parse_crypto("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP").is_none());
    }

    #[test]
    fn generated_keys_differ_and_fit() {
        let a = SrtpKey::generate(Suite::AesCm128HmacSha1_80).unwrap();
        let b = SrtpKey::generate(Suite::AesCm128HmacSha1_80).unwrap();
        assert_eq!(a.material.len(), 30);
        assert_ne!(a.material, b.material);
        assert_eq!(SrtpKey::generate(Suite::AeadAes256Gcm).unwrap().material.len(), 44);
    }
}
