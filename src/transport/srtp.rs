//! SRTP/SRTCP protect and unprotect for one direction of one socket, with replay
//! protection on: RTP through our in-place transform (`srtp_rtp`), SRTCP through rtc-srtp
//! (the sans-I/O generation; replay protection is off by default there and switched on).

use super::sdes::SrtpKey;
use super::srtp_rtp::{self, SrtpRtp};
use bytes::BytesMut;
use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};

/// RFC 3711 §3.3.2 suggests at least 64 packets; browsers use 64 too.
const REPLAY_WINDOW: usize = 128;

pub struct Srtp {
    pub key: SrtpKey,
    /// SRTCP (and RTP for callers that want a fresh buffer, such as the load tool).
    ctx: Context,
    /// RTP on the relay path, in place.
    rtp: SrtpRtp,
}

impl Srtp {
    pub fn new(key: SrtpKey) -> Result<Srtp, String> {
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        let p = key.suite.profile();
        let (k, s) = key.material.split_at(p.key_len());
        let ctx = Context::new(
            k,
            s,
            p,
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
            provider.crypto(),
        )
        .map_err(|e| format!("SRTP context: {e}"))?;
        let rtp = SrtpRtp::new(&key)?;
        Ok(Srtp { key, ctx, rtp })
    }

    /// Unprotects the SRTP packet `pkt` in place (allocation-free); the plain length.
    pub fn unprotect_rtp(&mut self, pkt: &mut [u8]) -> Result<usize, srtp_rtp::Error> {
        self.rtp.unprotect(pkt)
    }

    /// Protects the RTP packet `buf[..len]` in place; `buf` needs `srtp_rtp::MAX_TAG`
    /// bytes of room after it. The SRTP length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, srtp_rtp::Error> {
        self.rtp.protect(buf, len)
    }

    /// Authenticates and decrypts through rtc-srtp; an error for a bad tag, a replay or
    /// garbage. The buffer is rtc-srtp's own (one allocation per packet).
    pub fn unprotect(&mut self, pkt: &[u8], rtcp: bool) -> Result<BytesMut, String> {
        let r = if rtcp { self.ctx.decrypt_rtcp(pkt) } else { self.ctx.decrypt_rtp(pkt) };
        r.map_err(|e| e.to_string())
    }

    pub fn protect(&mut self, pkt: &[u8], rtcp: bool) -> Result<BytesMut, String> {
        let r = if rtcp { self.ctx.encrypt_rtcp(pkt) } else { self.ctx.encrypt_rtp(pkt) };
        r.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::sdes::Suite;
    use super::*;

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0, (seq >> 8) as u8, seq as u8, 0, 0, 0, 160, 0, 0, 0, 7];
        p.extend_from_slice(&[0x55; 160]);
        p
    }

    #[test]
    fn round_trip_bad_tag_and_replay() {
        for suite in [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32, Suite::AeadAes128Gcm, Suite::AeadAes256Gcm] {
            let key = SrtpKey::generate(suite).unwrap();
            let mut tx = Srtp::new(key.clone()).unwrap();
            let mut rx = Srtp::new(key).unwrap();
            let enc = tx.protect(&rtp(1), false).unwrap();
            assert_ne!(enc[12..172], rtp(1)[12..]);
            assert_eq!(rx.unprotect(&enc, false).unwrap()[..], rtp(1)[..], "{suite:?}");
            assert!(rx.unprotect(&enc, false).is_err(), "{suite:?}: replay accepted");
            let mut bad = tx.protect(&rtp(2), false).unwrap();
            let n = bad.len();
            bad[n - 1] ^= 1;
            assert!(rx.unprotect(&bad, false).is_err(), "{suite:?}: bad tag accepted");
            let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 7];
            let enc = tx.protect(&rr, true).unwrap();
            assert_eq!(rx.unprotect(&enc, true).unwrap()[..], rr[..]);
        }
    }
}
