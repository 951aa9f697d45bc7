//! Zero-copy RTP and RTCP header checks for the relay path.
//!
//! The relay only needs to know whether a datagram is well-formed RTP or RTCP (junk is never
//! relayed) and a few header fields for statistics. The webrtc-rs `rtp` crate's
//! `Header::unmarshal` allocates for CSRCs and extensions; this view allocates nothing and
//! runs per packet. Full RTCP handling arrives with `generate-RTCP` (a later issue).

/// What a datagram on a media port is (RFC 5761 §4 / RFC 7983 first-byte demultiplexing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Rtp(RtpHeader),
    Rtcp(RtcpHeader),
    /// Not RTP/RTCP (STUN, DTLS, garbage, truncated): never relayed.
    Invalid(Invalid),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    TooShort,
    Version,
    /// Header length (CSRC list, extension) or padding runs past the datagram.
    Length,
    /// First byte in the STUN (0-3), DTLS (20-63) or TURN channel (64-79) range.
    NotRtp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Offset of the payload in the datagram.
    pub payload_offset: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcpHeader {
    pub packet_type: u8,
    pub ssrc: u32,
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Classifies one datagram. RTCP is recognised by packet types 192-223 in the second byte
/// (RFC 5761 §4), which also covers RTP payload types 64-95 with the marker bit set: those
/// payload types are reserved for exactly this reason.
pub fn classify(b: &[u8]) -> Kind {
    if b.is_empty() {
        return Kind::Invalid(Invalid::TooShort);
    }
    if b[0] < 128 {
        return Kind::Invalid(if b[0] >> 6 == 2 { Invalid::Version } else { Invalid::NotRtp });
    }
    if b[0] >> 6 != 2 {
        return Kind::Invalid(Invalid::Version);
    }
    if b.len() < 8 {
        return Kind::Invalid(Invalid::TooShort);
    }
    let pt = b[1];
    if (192..=223).contains(&pt) {
        return classify_rtcp(b);
    }
    if b.len() < 12 {
        return Kind::Invalid(Invalid::TooShort);
    }
    let cc = (b[0] & 0x0f) as usize;
    let mut off = 12 + 4 * cc;
    if b[0] & 0x10 != 0 {
        if b.len() < off + 4 {
            return Kind::Invalid(Invalid::Length);
        }
        off += 4 + 4 * be16(b, off + 2) as usize;
    }
    if off > b.len() {
        return Kind::Invalid(Invalid::Length);
    }
    if b[0] & 0x20 != 0 {
        let pad = b[b.len() - 1] as usize;
        if pad == 0 || off + pad > b.len() {
            return Kind::Invalid(Invalid::Length);
        }
    }
    Kind::Rtp(RtpHeader {
        marker: pt & 0x80 != 0,
        payload_type: pt & 0x7f,
        sequence: be16(b, 2),
        timestamp: be32(b, 4),
        ssrc: be32(b, 8),
        payload_offset: off,
    })
}

/// RTCP: the first sub-packet's header must fit the datagram. Later sub-packets are not
/// walked: in SRTCP they are encrypted and followed by the index and the auth tag.
fn classify_rtcp(b: &[u8]) -> Kind {
    let len = 4 * (be16(b, 2) as usize + 1);
    if len > b.len() {
        return Kind::Invalid(Invalid::Length);
    }
    Kind::Rtcp(RtcpHeader { packet_type: b[1], ssrc: be32(b, 4) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(pt: u8, seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, pt, (seq >> 8) as u8, seq as u8, 0, 0, 0, 160, 1, 2, 3, 4];
        p.extend_from_slice(&[0xd5; 160]);
        p
    }

    #[test]
    fn rtp_fields() {
        match classify(&rtp(8, 513)) {
            Kind::Rtp(h) => {
                assert_eq!(h.payload_type, 8);
                assert_eq!(h.sequence, 513);
                assert_eq!(h.timestamp, 160);
                assert_eq!(h.ssrc, 0x01020304);
                assert_eq!(h.payload_offset, 12);
            }
            k => panic!("{k:?}"),
        }
    }

    #[test]
    fn rtp_with_csrc_extension_padding() {
        let mut p = vec![0xb1, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]); // one-byte ext, 1 word
        p.extend_from_slice(&[1, 2, 3, 0, 0, 3]); // payload 3 + padding 3
        match classify(&p) {
            Kind::Rtp(h) => assert_eq!(h.payload_offset, 24),
            k => panic!("{k:?}"),
        }
        // extension length past the end
        let mut q = p.clone();
        q[18] = 0xff;
        assert_eq!(classify(&q), Kind::Invalid(Invalid::Length));
        // padding larger than the packet
        let mut q = p.clone();
        *q.last_mut().unwrap() = 200;
        assert_eq!(classify(&q), Kind::Invalid(Invalid::Length));
    }

    #[test]
    fn rtcp_compound() {
        // RR (no report blocks) + SDES (empty chunk list padded)
        let p = [0x80, 201, 0, 1, 0, 0, 0, 7, 0x81, 202, 0, 1, 0, 0, 0, 7];
        assert_eq!(classify(&p), Kind::Rtcp(RtcpHeader { packet_type: 201, ssrc: 7 }));
        // a first sub-packet longer than the datagram
        let mut q = p;
        q[3] = 9;
        assert_eq!(classify(&q), Kind::Invalid(Invalid::Length));
    }

    #[test]
    fn junk() {
        assert_eq!(classify(b""), Kind::Invalid(Invalid::TooShort));
        assert_eq!(classify(b"\x00\x01\x00\x00"), Kind::Invalid(Invalid::NotRtp)); // STUN
        assert_eq!(classify(b"\x16\xfe\xfd"), Kind::Invalid(Invalid::NotRtp)); // DTLS
        assert_eq!(classify(b"hello world, this is junk"), Kind::Invalid(Invalid::NotRtp));
        assert_eq!(classify(&[0xc0; 20]), Kind::Invalid(Invalid::Version));
        assert_eq!(classify(&[0x80, 0, 0]), Kind::Invalid(Invalid::TooShort));
    }
}
