//! DTLS-SRTP (RFC 5763/5764) on one media socket, with `rtc-dtls` (sans-I/O): the
//! handshake in the role `a=setup` gave us, the peer's certificate checked against its
//! `a=fingerprint`, and the SRTP keys exported when it completes.
//!
//! One `rtc_dtls` endpoint per socket, holding one association under a fixed key: the
//! association follows the ICE-selected address rather than the address it began on (the
//! caller accepts DTLS only from ICE-validated sources and sends to the selected one).

use super::sdes::{SrtpKey, Suite};
use bytes::BytesMut;
use rtc_dtls::cipher_suite::CipherSuiteId;
use rtc_dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType, HandshakeConfig};
use rtc_dtls::crypto::Certificate;
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::TransportProtocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A handshake that has not completed this long after it began fails (the peer's
/// retransmissions are over by then: RFC 6347 gives up after about a minute).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// eagw's certificate: ECDSA P-256, self-signed, and its SHA-256 fingerprint for SDP.
pub struct Identity {
    cert: Certificate,
    /// `sha-256 AB:CD:...` as `a=fingerprint` carries it.
    pub fingerprint: String,
}

impl Identity {
    /// A fresh certificate (at start; a PEM from config is the alternative).
    pub fn generate() -> Result<Identity, String> {
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        let cert = Certificate::generate_self_signed(vec!["eagw".to_string()], provider.crypto())
            .map_err(|e| format!("DTLS certificate: {e}"))?;
        Identity::from_cert(cert)
    }

    /// Certificate(s) and PKCS#8 key (`-----BEGIN PRIVATE KEY-----`, as `openssl pkcs8
    /// -topk8` writes it), PEM, in one text, in any order.
    pub fn from_pem(pem: &str) -> Result<Identity, String> {
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        // rtc-dtls wants the key first, under its own tag
        let (mut key, mut certs) = (None, String::new());
        let mut rest = pem;
        while let Some(start) = rest.find("-----BEGIN ") {
            let after = &rest[start + 11..];
            let tag = after.split("-----").next().unwrap_or("");
            let end_marker = format!("-----END {tag}-----");
            let end = after.find(&end_marker).ok_or_else(|| format!("DTLS certificate: unterminated PEM block {tag}"))?;
            let body = &after[tag.len() + 5..end];
            match tag {
                "PRIVATE KEY" => key = Some(format!("-----BEGIN PRIVATE_KEY-----{body}-----END PRIVATE_KEY-----\n")),
                "CERTIFICATE" => certs.push_str(&format!("-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----\n")),
                other => return Err(format!("DTLS certificate: unexpected PEM block {other:?} (want PRIVATE KEY in PKCS#8 and CERTIFICATE)")),
            }
            rest = &after[end + end_marker.len()..];
        }
        let key = key.ok_or("DTLS certificate: no PKCS#8 PRIVATE KEY block")?;
        if certs.is_empty() {
            return Err("DTLS certificate: no CERTIFICATE block".into());
        }
        let cert = Certificate::from_pem(&(key + &certs), provider.crypto()).map_err(|e| format!("DTLS certificate: {e}"))?;
        Identity::from_cert(cert)
    }

    fn from_cert(cert: Certificate) -> Result<Identity, String> {
        let der = cert.certificate.first().ok_or("DTLS certificate: empty chain")?;
        let fingerprint = format!("sha-256 {}", hex_colon(&sha256(der)?));
        Ok(Identity { cert, fingerprint })
    }
}

fn sha256(b: &[u8]) -> Result<Vec<u8>, String> {
    let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
    provider.crypto().hash(rtc_crypto::HashAlgorithm::Sha256, b).map_err(|e| format!("sha-256: {e}"))
}

fn hex_colon(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{x:02X}"));
    }
    s
}

/// The party's `a=fingerprint`: hash name and digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: String,
    pub digest: Vec<u8>,
}

/// Parses `sha-256 AB:CD:...` (only SHA-256 is accepted: what every WebRTC stack sends).
pub fn parse_fingerprint(v: &str) -> Option<Fingerprint> {
    let (hash, hex) = v.trim().split_once(' ')?;
    if !hash.eq_ignore_ascii_case("sha-256") {
        return None;
    }
    let digest: Option<Vec<u8>> = hex.trim().split(':').map(|h| u8::from_str_radix(h, 16).ok()).collect();
    let digest = digest.filter(|d| d.len() == 32)?;
    Some(Fingerprint { hash: "sha-256".into(), digest })
}

/// Where the handshake is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting: for the peer's ClientHello (server), or for ICE to select a pair (client).
    Idle,
    Handshaking,
    Connected { suite: Suite },
    Failed(String),
}

/// SRTP keys for both directions, from the DTLS exporter.
pub struct Keys {
    /// Decrypts what the party sends.
    pub rx: SrtpKey,
    /// Encrypts what eagw sends the party.
    pub tx: SrtpKey,
}

/// The fixed key of the one association in the endpoint (never put on the wire).
const ASSOC: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 9);

pub struct Dtls {
    ep: Endpoint,
    config: Arc<HandshakeConfig>,
    pub client: bool,
    pub state: State,
    started: Option<Instant>,
    /// Our answering flight went out (server: flight 4; client: flight 5): the peer's
    /// repeats of what it answers are dropped (see [`peer_repeat`]).
    answered: bool,
}

impl Dtls {
    /// An association in the given role that accepts only a certificate with `remote`'s digest.
    pub fn new(id: &Identity, client: bool, remote: &Fingerprint) -> Result<Dtls, String> {
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        let want = remote.digest.clone();
        let verify: rtc_dtls::config::VerifyPeerCertificateFn = Arc::new(move |certs: &[Vec<u8>], _| {
            let ok = certs.first().and_then(|c| sha256(c).ok()).is_some_and(|d| rtc_crypto::constant_time_eq(&d, &want));
            if ok {
                Ok(())
            } else {
                Err(rtc_shared::error::Error::Other(FINGERPRINT_MISMATCH.into()))
            }
        });
        let config = ConfigBuilder::default()
            .with_crypto_provider(provider)
            .with_certificates(vec![id.cert.clone()])
            .with_cipher_suites(vec![
                CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_128_Gcm_Sha256,
                CipherSuiteId::Tls_Ecdhe_Ecdsa_With_Aes_256_Cbc_Sha,
            ])
            .with_srtp_protection_profiles(vec![
                SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
                SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
                SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
            ])
            .with_extended_master_secret(ExtendedMasterSecretType::Request)
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            .with_insecure_skip_verify(true) // self-signed: the fingerprint check is the verification
            .with_verify_peer_certificate(Some(verify))
            .build(client, None)
            .map_err(|e| format!("DTLS config: {e}"))?;
        let config = Arc::new(config);
        let server = if client { None } else { Some(config.clone()) };
        Ok(Dtls { ep: Endpoint::new(ASSOC, TransportProtocol::UDP, server), config, client, state: State::Idle, started: None, answered: false })
    }

    /// Client role: sends the ClientHello (once).
    pub fn start(&mut self, now: Instant) {
        if !self.client || self.started.is_some() {
            return;
        }
        self.started = Some(now);
        self.state = State::Handshaking;
        if let Err(e) = self.ep.connect(now, ASSOC, self.config.clone(), None) {
            self.state = State::Failed(format!("DTLS: {e}"));
        }
    }

    /// One DTLS datagram from the party (already checked to come from a validated
    /// address). Returns the SRTP keys when this completed the handshake.
    pub fn on_packet(&mut self, pkt: &[u8], now: Instant) -> Result<Option<Keys>, String> {
        if matches!(self.state, State::Failed(_)) {
            return Err("DTLS association failed".into());
        }
        if self.started.is_none() {
            self.started = Some(now);
            self.state = State::Handshaking;
        }
        if self.answered && self.state == State::Handshaking && peer_repeat(pkt, self.client) {
            tracing::debug!(client = self.client, "DTLS: peer repeated its flight; ours retransmits on its timer");
            return Ok(None);
        }
        let events = match self.ep.read(now, ASSOC, None, BytesMut::from(pkt)) {
            Ok(ev) => ev,
            Err(e) => {
                // a fatal error during the handshake ends it; after it, a bad record is dropped
                let msg = format!("DTLS: {e}");
                if self.state == State::Handshaking && is_fatal(&e) {
                    self.state = State::Failed(msg.clone());
                }
                return Err(msg);
            }
        };
        let mut keys = None;
        for ev in events {
            match ev {
                EndpointEvent::HandshakeComplete => {
                    let k = self.export()?;
                    self.state = State::Connected { suite: k.rx.suite };
                    keys = Some(k);
                }
                EndpointEvent::PeerClosed => {
                    self.state = State::Failed("DTLS close_notify from the party".into());
                }
                _ => {} // application data: no data channels here
            }
        }
        Ok(keys)
    }

    fn export(&self) -> Result<Keys, String> {
        let st = self.ep.get_connection_state(ASSOC).ok_or("DTLS: no association")?;
        let suite = match st.srtp_protection_profile() {
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => Suite::AesCm128HmacSha1_80,
            SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32 => Suite::AesCm128HmacSha1_32,
            SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => Suite::AeadAes128Gcm,
            SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm => Suite::AeadAes256Gcm,
            _ => return Err("DTLS: no SRTP profile negotiated (use_srtp missing)".into()),
        };
        let p = suite.profile();
        let (kl, sl) = (p.key_len(), p.salt_len());
        let m = st
            .export_keying_material("EXTRACTOR-dtls_srtp", &[], 2 * (kl + sl))
            .map_err(|e| format!("DTLS exporter: {e}"))?;
        // RFC 5764 §4.2: client key, server key, client salt, server salt
        let m: &[u8] = m.as_ref();
        let (ck, rest) = m.split_at(kl);
        let (sk, rest) = rest.split_at(kl);
        let (cs, ss) = rest.split_at(sl);
        let client = SrtpKey { suite, material: [ck, cs].concat() };
        let server = SrtpKey { suite, material: [sk, ss].concat() };
        Ok(if self.client { Keys { rx: server, tx: client } } else { Keys { rx: client, tx: server } })
    }

    /// The next datagram to send to the party.
    pub fn poll_transmit(&mut self) -> Option<BytesMut> {
        let p = self.ep.poll_transmit()?.message;
        // server: ServerHello = flight 4; client: Certificate / ClientKeyExchange = flight 5
        let t = handshake_type(&p);
        if (!self.client && t == Some(2)) || (self.client && matches!(t, Some(11) | Some(16))) {
            self.answered = true;
        }
        Some(p)
    }

    /// Retransmissions and the handshake timeout; call when [`Dtls::next_timeout`] is due.
    pub fn on_timeout(&mut self, now: Instant) {
        if self.state == State::Handshaking {
            if self.started.is_some_and(|s| now.duration_since(s) > HANDSHAKE_TIMEOUT) {
                self.state = State::Failed("DTLS handshake timed out".into());
                return;
            }
            let _ = self.ep.handle_timeout(ASSOC, now);
        }
    }

    /// When [`Dtls::on_timeout`] wants to run (while handshaking).
    pub fn next_timeout(&self) -> Option<Instant> {
        if self.state != State::Handshaking {
            return None;
        }
        let limit = self.started.map(|s| s + HANDSHAKE_TIMEOUT);
        [self.ep.poll_timeout(&ASSOC), limit].into_iter().flatten().min()
    }
}

/// The handshake type of the first record of a datagram, if it is an epoch-0 handshake
/// record (type 22), and its message_seq.
fn handshake_header(pkt: &[u8]) -> Option<(u8, u16)> {
    if pkt.len() < 13 + 12 || pkt[0] != 22 || pkt[3] != 0 || pkt[4] != 0 {
        return None;
    }
    Some((pkt[13], u16::from_be_bytes([pkt[17], pkt[18]])))
}

fn handshake_type(pkt: &[u8]) -> Option<u8> {
    handshake_header(pkt).map(|(t, _)| t)
}

/// Whether a datagram repeats the peer's flight that our answering flight (already sent)
/// answers: at the server a ClientHello with message_seq ≥ 1 (the one with the cookie,
/// answered by flight 4), at the client any part of flight 4 (ServerHello, Certificate,
/// ServerKeyExchange, CertificateRequest, ServerHelloDone; answered by flight 5). Any
/// fragment counts (Chromium's ClientHello, with a post-quantum key share, spans two).
///
/// rtc-dtls 0.21.1 handles such a repeat badly: a handshake record that does not parse as
/// the flight it waits for clears its retransmission timer and leaves the association
/// waiting for ever (handshaker.rs `wait()`), so one lost flight 4 (server) or 5 (client)
/// stalls the handshake. Dropping the repeat keeps the timer armed: our retransmission of
/// the lost flight follows within the schedule (RFC 6347 §4.2.4 asks for an answer to the
/// repeat; the timer's comes at most one interval later). The first ClientHello (no
/// cookie) is never dropped: HelloVerifyRequest has no timer and answers its repeats.
fn peer_repeat(pkt: &[u8], client: bool) -> bool {
    match (client, handshake_header(pkt)) {
        (false, Some((1, seq))) => seq >= 1,
        (true, Some((t, _))) => matches!(t, 2 | 11 | 12 | 13 | 14),
        _ => false,
    }
}

/// Errors that end a handshake (a wrong certificate, an alert) rather than one bad record.
fn is_fatal(e: &rtc_shared::error::Error) -> bool {
    use rtc_shared::error::Error as E;
    match e {
        E::Other(m) => m == FINGERPRINT_MISMATCH,
        E::ErrAlertFatalOrClose
        | E::ErrInvalidCertificate
        | E::ErrNoCertificates
        | E::ErrCertificateVerifyNoCertificate
        | E::ErrClientCertificateNotVerified
        | E::ErrClientCertificateRequired
        | E::ErrVerifyDataMismatch => true,
        _ => false,
    }
}

/// Our certificate check's verdict (see [`Dtls::new`]).
const FINGERPRINT_MISMATCH: &str = "certificate does not match a=fingerprint";

#[cfg(test)]
mod tests {
    use super::*;

    fn pump(a: &mut Dtls, b: &mut Dtls, now: Instant) -> (Option<Keys>, Option<Keys>, Vec<String>) {
        let (mut ka, mut kb, mut errs) = (None, None, vec![]);
        for _ in 0..20 {
            let mut moved = false;
            while let Some(p) = a.poll_transmit() {
                moved = true;
                match b.on_packet(&p, now) {
                    Ok(Some(k)) => kb = Some(k),
                    Ok(None) => {}
                    Err(e) => errs.push(e),
                }
            }
            while let Some(p) = b.poll_transmit() {
                moved = true;
                match a.on_packet(&p, now) {
                    Ok(Some(k)) => ka = Some(k),
                    Ok(None) => {}
                    Err(e) => errs.push(e),
                }
            }
            if !moved {
                break;
            }
        }
        (ka, kb, errs)
    }

    #[test]
    fn handshake_exports_matching_keys() {
        let (ia, ib) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let fa = parse_fingerprint(&ia.fingerprint).unwrap();
        let fb = parse_fingerprint(&ib.fingerprint).unwrap();
        let now = Instant::now();
        let mut client = Dtls::new(&ia, true, &fb).unwrap();
        let mut server = Dtls::new(&ib, false, &fa).unwrap();
        client.start(now);
        let (kc, ks, errs) = pump(&mut client, &mut server, now);
        let (kc, ks) = (kc.expect("client keys"), ks.expect("server keys"));
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(kc.tx, ks.rx);
        assert_eq!(kc.rx, ks.tx);
        assert_ne!(kc.tx, kc.rx);
        assert!(matches!(client.state, State::Connected { .. }));
    }

    /// 30 % of datagrams lost each way: retransmissions still complete the handshake
    /// within the schedule (1 s, doubling), and both sides agree on the keys.
    #[test]
    fn handshake_survives_30_percent_loss() {
        let (ia, ib) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let (fa, fb) = (parse_fingerprint(&ia.fingerprint).unwrap(), parse_fingerprint(&ib.fingerprint).unwrap());
        for seed in 1..=40u32 {
            let mut rng = seed.wrapping_mul(2654435761);
            let mut lose = move || {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                rng % 10 < 3
            };
            let t0 = Instant::now();
            let mut client = Dtls::new(&ia, true, &fb).unwrap();
            let mut server = Dtls::new(&ib, false, &fa).unwrap();
            client.start(t0);
            let (mut kc, mut ks) = (None, None);
            let mut now = t0;
            while (kc.is_none() || ks.is_none()) && now < t0 + Duration::from_secs(25) {
                while let Some(p) = client.poll_transmit() {
                    if !lose() {
                        if let Ok(Some(k)) = server.on_packet(&p, now) {
                            ks = Some(k);
                        }
                    }
                }
                while let Some(p) = server.poll_transmit() {
                    if !lose() {
                        if let Ok(Some(k)) = client.on_packet(&p, now) {
                            kc = Some(k);
                        }
                    }
                }
                now += Duration::from_millis(100);
                client.on_timeout(now);
                server.on_timeout(now);
            }
            assert!(kc.is_some() && ks.is_some(), "seed {seed}: client {:?} {} server {:?} {}", client.state, kc.is_some(), server.state, ks.is_some());
            let (kc, ks) = (kc.unwrap(), ks.unwrap());
            assert_eq!((kc.tx, kc.rx), (ks.rx, ks.tx), "seed {seed}");
        }
    }

    #[test]
    fn wrong_fingerprint_fails_the_handshake() {
        let (ia, ib, other) = (Identity::generate().unwrap(), Identity::generate().unwrap(), Identity::generate().unwrap());
        let fa = parse_fingerprint(&ia.fingerprint).unwrap();
        let wrong = parse_fingerprint(&other.fingerprint).unwrap();
        let now = Instant::now();
        // the client expects another certificate than the server's
        let mut client = Dtls::new(&ia, true, &wrong).unwrap();
        let mut server = Dtls::new(&ib, false, &fa).unwrap();
        client.start(now);
        let (kc, ks, _) = pump(&mut client, &mut server, now);
        assert!(kc.is_none() && ks.is_none());
        assert!(matches!(client.state, State::Failed(_)), "{:?}", client.state);
        // and the server side refuses a client whose certificate is not the announced one
        let mut client = Dtls::new(&ia, true, &parse_fingerprint(&ib.fingerprint).unwrap()).unwrap();
        let mut server = Dtls::new(&ib, false, &wrong).unwrap();
        client.start(now);
        let (kc, ks, _) = pump(&mut client, &mut server, now);
        assert!(kc.is_none() && ks.is_none());
        assert!(matches!(server.state, State::Failed(_)), "{:?}", server.state);
    }

    /// A peer that never answers: retransmissions, then `Failed` after HANDSHAKE_TIMEOUT.
    #[test]
    fn handshake_times_out() {
        let (ia, ib) = (Identity::generate().unwrap(), Identity::generate().unwrap());
        let t0 = Instant::now();
        let mut client = Dtls::new(&ia, true, &parse_fingerprint(&ib.fingerprint).unwrap()).unwrap();
        client.start(t0);
        let mut sent = 0;
        while client.poll_transmit().is_some() {
            sent += 1;
        }
        let mut now = t0;
        while let Some(due) = client.next_timeout() {
            assert!(due <= t0 + HANDSHAKE_TIMEOUT, "timer beyond the handshake timeout");
            now = due.max(now + Duration::from_millis(1));
            client.on_timeout(now);
            while client.poll_transmit().is_some() {
                sent += 1;
            }
        }
        assert!(matches!(&client.state, State::Failed(why) if why.contains("timed out")), "{:?}", client.state);
        assert!(sent >= 3, "ClientHello retransmitted: {sent} datagrams");
        assert!(now >= t0 + HANDSHAKE_TIMEOUT);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let ia = Identity::generate().unwrap();
        let f = parse_fingerprint(&ia.fingerprint).unwrap();
        let mut server = Dtls::new(&ia, false, &f).unwrap();
        let now = Instant::now();
        for junk in [&b"\x16\xfe\xfd"[..], b"\x17\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x05\x00\x03abc", &[0x16; 300]] {
            let _ = server.on_packet(junk, now);
        }
        assert!(server.poll_transmit().is_none());
    }

    #[test]
    fn pem_in_openssl_layout_round_trips() {
        let id = Identity::generate().unwrap();
        let pem = id.cert.serialize_pem().unwrap().replace("PRIVATE_KEY", "PRIVATE KEY");
        // certificate first, then the key, as `cat cert.pem key.pem` gives
        let key_end = pem.find("-----END PRIVATE KEY-----").unwrap() + "-----END PRIVATE KEY-----".len();
        let swapped = format!("{}\n{}", &pem[key_end..], &pem[..key_end]);
        assert_eq!(Identity::from_pem(&swapped).unwrap().fingerprint, id.fingerprint);
        assert!(Identity::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
        assert!(Identity::from_pem("garbage").is_err());
    }

    #[test]
    fn fingerprint_parsing() {
        let id = Identity::generate().unwrap();
        assert!(id.fingerprint.starts_with("sha-256 "));
        assert_eq!(parse_fingerprint(&id.fingerprint).unwrap().digest.len(), 32);
        assert!(parse_fingerprint("sha-1 AB:CD").is_none());
        assert!(parse_fingerprint("sha-256 AB:CD").is_none());
        assert!(parse_fingerprint("sha-256 zz").is_none());
    }
}
