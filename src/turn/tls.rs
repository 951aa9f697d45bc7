//! TURN over TLS (RFC 8656 §3.1, port 5349): a rustls `ServerConnection` used sans-IO in
//! front of the stream framer. The worker reads ciphertext from the socket and hands it to
//! [`TlsStream::receive`], which appends the plaintext to the connection's
//! [`Framer`]; what the worker sends goes through [`TlsStream::seal`] into the
//! connection's output queue (the same EPOLLOUT queue as plain TCP). Record parsing,
//! the handshake and alerts are rustls's; nothing here parses TLS itself.

use super::framer::Framer;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::io::{Read, Write};
use std::sync::Arc;

/// Plaintext taken out of rustls per read (a TURN message is at most ~64 KiB).
const PLAIN_CHUNK: usize = 16 * 1024;

/// The server configuration shared by every worker: the certificate chain and key from
/// the PEM files, or (both paths empty) a self-signed certificate made now. Returns the
/// configuration and the SHA-256 fingerprint of the leaf certificate (for the log).
pub fn server_config(cert_path: &str, key_path: &str) -> Result<(Arc<ServerConfig>, String), String> {
    let (certs, key) = if cert_path.is_empty() && key_path.is_empty() {
        let names = vec!["eagw".to_string(), "localhost".to_string()];
        let ck = rcgen::generate_simple_self_signed(names).map_err(|e| format!("TURN TLS certificate: {e}"))?;
        let key = PrivateKeyDer::try_from(ck.signing_key.serialize_der()).map_err(|e| format!("TURN TLS key: {e}"))?;
        (vec![ck.cert.der().clone()], key)
    } else {
        let certs = CertificateDer::pem_file_iter(cert_path)
            .map_err(|e| format!("tls_cert {cert_path}: {e}"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("tls_cert {cert_path}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("tls_cert {cert_path}: no CERTIFICATE block"));
        }
        let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| format!("tls_key {key_path}: {e}"))?;
        (certs, key)
    };
    let fingerprint = fingerprint(&certs[0]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TURN TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("TURN TLS certificate: {e}"))?;
    Ok((Arc::new(cfg), fingerprint))
}

fn fingerprint(cert: &CertificateDer) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    d.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Why a TLS stream ends.
#[derive(Debug, PartialEq, Eq)]
pub enum TlsEnd {
    /// rustls refused what the client sent (not TLS, a bad record, a failed handshake);
    /// the alert, if any, is in the output queue.
    Error,
    /// The client sent close_notify.
    Closed,
}

/// The TLS layer of one connection.
pub struct TlsStream {
    conn: rustls::ServerConnection,
}

impl TlsStream {
    pub fn new(cfg: &Arc<ServerConfig>) -> Result<TlsStream, String> {
        let mut conn = rustls::ServerConnection::new(cfg.clone()).map_err(|e| e.to_string())?;
        // the worker bounds its own queue (and takes the records out after every write)
        conn.set_buffer_limit(None);
        Ok(TlsStream { conn })
    }

    /// The handshake has not completed yet.
    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Ciphertext from the socket: the plaintext goes to `framer`, handshake records and
    /// alerts to `out`. After an `Err` the connection is to be closed (once `out` is sent,
    /// if the caller wants to send the alert).
    pub fn receive(&mut self, mut data: &[u8], framer: &mut Framer, out: &mut Vec<u8>) -> Result<(), TlsEnd> {
        // (an empty read would count as the end of the stream: feed only what there is)
        while !data.is_empty() {
            let before = data.len();
            if self.conn.read_tls(&mut data).is_err() {
                self.flush(out);
                return Err(TlsEnd::Error);
            }
            let processed = self.conn.process_new_packets();
            self.flush(out);
            if processed.is_err() {
                return Err(TlsEnd::Error);
            }
            loop {
                let room = framer.room(PLAIN_CHUNK);
                match self.conn.reader().read(room) {
                    Ok(0) => {
                        framer.filled(PLAIN_CHUNK, 0);
                        return Err(TlsEnd::Closed);
                    }
                    Ok(n) => framer.filled(PLAIN_CHUNK, n),
                    Err(_) => {
                        // WouldBlock: nothing more for now
                        framer.filled(PLAIN_CHUNK, 0);
                        break;
                    }
                }
            }
            if data.len() == before {
                break; // rustls took nothing (cannot happen with a non-empty slice)
            }
        }
        Ok(())
    }

    /// Encrypts `plain` and appends the records to `out`.
    pub fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), TlsEnd> {
        if self.conn.writer().write_all(plain).is_err() {
            return Err(TlsEnd::Error);
        }
        self.flush(out);
        Ok(())
    }

    /// Moves every pending TLS record into `out`.
    fn flush(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turn::client;

    /// A rustls client that accepts any certificate (the test checks the server's side).
    #[derive(Debug)]
    struct AnyCert(Arc<rustls::crypto::CryptoProvider>);
    impl rustls::client::danger::ServerCertVerifier for AnyCert {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &rustls::pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    fn client() -> rustls::ClientConnection {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
            .with_no_client_auth();
        rustls::ClientConnection::new(Arc::new(cfg), "eagw".try_into().unwrap()).unwrap()
    }

    fn client_out(c: &mut rustls::ClientConnection) -> Vec<u8> {
        let mut v = vec![];
        while c.wants_write() {
            c.write_tls(&mut v).unwrap();
        }
        v
    }

    /// Feeds the client server bytes, in chunks of `split`.
    fn client_in(c: &mut rustls::ClientConnection, mut data: &[u8]) -> Vec<u8> {
        while !data.is_empty() {
            c.read_tls(&mut data).unwrap();
            c.process_new_packets().unwrap();
        }
        let mut plain = vec![];
        let _ = c.reader().read_to_end(&mut plain);
        plain
    }

    #[test]
    fn handshake_then_turn_messages_both_ways_across_any_split() {
        let (cfg, fp) = server_config("", "").unwrap();
        assert_eq!(fp.len(), 32 * 3 - 1);
        let msg = client::channel_data(0x4001, b"hello over TLS");
        for split in [1, 2, 7, 100, 5000] {
            let mut s = TlsStream::new(&cfg).unwrap();
            let mut c = client();
            let mut framer = Framer::default();
            let mut out = vec![];
            c.writer().write_all(&msg).unwrap(); // sent once the handshake is done
            for _ in 0..4 {
                let to_server = client_out(&mut c);
                for chunk in to_server.chunks(split) {
                    s.receive(chunk, &mut framer, &mut out).unwrap();
                }
                client_in(&mut c, &std::mem::take(&mut out));
            }
            assert!(!s.handshaking() && !c.is_handshaking(), "split {split}");
            assert_eq!(framer.next_message().unwrap(), Some(&msg[..]), "split {split}");
            assert_eq!(framer.next_message().unwrap(), None);
            let reply = client::channel_data(0x4001, b"reply");
            s.seal(&reply, &mut out).unwrap();
            assert_eq!(client_in(&mut c, &out), reply);
        }
    }

    #[test]
    fn garbage_is_an_error_with_an_alert_and_close_notify_ends() {
        let (cfg, _) = server_config("", "").unwrap();
        let mut s = TlsStream::new(&cfg).unwrap();
        let (mut framer, mut out) = (Framer::default(), vec![]);
        // a plain TURN request on the TLS port
        let req = client::channel_data(0x4001, b"not TLS at all");
        assert_eq!(s.receive(&req, &mut framer, &mut out), Err(TlsEnd::Error));
        assert_eq!(framer.buffered(), 0);
        // half a ClientHello waits for more; a handshake record of junk is an error
        let mut s = TlsStream::new(&cfg).unwrap();
        let hello = client_out(&mut client());
        s.receive(&hello[..hello.len() / 2], &mut framer, &mut out).unwrap();
        assert!(s.handshaking());
        let mut s = TlsStream::new(&cfg).unwrap();
        let mut junk = vec![0x16, 3, 3, 0, 40];
        junk.extend([0xee; 40]);
        assert_eq!(s.receive(&junk, &mut framer, &mut Vec::new()), Err(TlsEnd::Error));
        // close_notify after a handshake
        let mut s = TlsStream::new(&cfg).unwrap();
        let mut c = client();
        let mut out = vec![];
        for _ in 0..4 {
            s.receive(&client_out(&mut c), &mut framer, &mut out).unwrap();
            client_in(&mut c, &std::mem::take(&mut out));
        }
        c.send_close_notify();
        assert_eq!(s.receive(&client_out(&mut c), &mut framer, &mut out), Err(TlsEnd::Closed));
    }

    #[test]
    fn pem_files_load_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("eagw-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["turn.example".to_string()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
        assert!(server_config(c, k).is_ok());
        let e = server_config(k, k).err().unwrap();
        assert!(e.contains("tls_cert"), "{e}");
        let e = server_config(c, "/nonexistent/key.pem").err().unwrap();
        assert!(e.contains("tls_key"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
