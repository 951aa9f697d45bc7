//! AMR-WB RTP payload format (RFC 4867), sans-IO: bandwidth-efficient and octet-aligned
//! framing, CMR, ToC entries with F and Q bits, several frames per packet, SID (FT 9)
//! and NO_DATA (FT 15); the `a=fmtp` parameters (`octet-align`, `mode-set`,
//! `mode-change-*`, ...). Interleaving, CRCs and robust sorting are not supported
//! ([`Fmtp::supported`] says so; an offer carrying them should not be accepted).
//!
//! Frames are [`Frame`] values: frame type, quality bit and the speech bits packed MSB
//! first (the layout of [`super::amrwb`]'s storage frames without the header octet).
//! Parsing never panics: a payload that is truncated, names a reserved frame type,
//! has octets left over or more than [`MAX_FRAMES`] frames is an [`Error`].

use super::amrwb::{frame_bits, frame_octets, storage_header, FT_NO_DATA};
use super::Error;

/// Frames kept from one payload (240 ms of 20 ms frames, the usual `maxptime`, plus
/// room); a payload with more is refused.
pub const MAX_FRAMES: usize = 16;
/// CMR value meaning "no mode request".
pub const CMR_NONE: u8 = 15;

/// Payload framing (`octet-align=1` or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    BandwidthEfficient,
    OctetAligned,
}

/// One AMR-WB frame of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Frame type: 0–8 speech modes, 9 SID, 14 SPEECH_LOST, 15 NO_DATA.
    pub ft: u8,
    /// Quality bit: false = the frame is damaged (decode as a bad frame).
    pub q: bool,
    /// Speech bits MSB first; the first `frame_octets(ft)` octets are meaningful.
    pub data: [u8; 60],
}

impl Default for Frame {
    fn default() -> Self {
        Frame { ft: FT_NO_DATA, q: true, data: [0; 60] }
    }
}

impl Frame {
    /// The frame's speech octets (empty for NO_DATA / SPEECH_LOST).
    pub fn speech(&self) -> &[u8] {
        let n = frame_octets(self.ft).unwrap_or(0);
        &self.data[..n.min(60)]
    }

    /// From a storage-layout frame (header octet + speech octets), as the encoder writes.
    pub fn from_storage(s: &[u8]) -> Result<Frame, Error> {
        let h = *s.first().ok_or(Error::Empty)?;
        let ft = (h >> 3) & 0x0f;
        let n = frame_octets(ft).ok_or(Error::BadFrameType(ft))?;
        let body = s.get(1..1 + n).ok_or(Error::Truncated)?;
        let mut f = Frame { ft, q: h & 0x04 != 0, data: [0; 60] };
        f.data[..n].copy_from_slice(body);
        Ok(f)
    }

    /// Writes the storage layout (what the decoder takes) into `out`; returns its length.
    pub fn to_storage(&self, out: &mut [u8; 61]) -> usize {
        let sp = self.speech();
        out[0] = storage_header(self.ft, self.q);
        out[1..1 + sp.len()].copy_from_slice(sp);
        1 + sp.len()
    }
}

/// A depacketized payload: the CMR and up to [`MAX_FRAMES`] frames.
#[derive(Clone, Debug)]
pub struct Payload {
    /// Codec mode request as sent (0–8 a mode, 15 none; other values are reserved and
    /// read as "none" by [`Payload::requested_mode`]).
    pub cmr: u8,
    pub count: usize,
    pub frames: [Frame; MAX_FRAMES],
}

impl Default for Payload {
    fn default() -> Self {
        Payload { cmr: CMR_NONE, count: 0, frames: [Frame::default(); MAX_FRAMES] }
    }
}

impl Payload {
    /// The frames of the payload.
    pub fn frames(&self) -> &[Frame] {
        &self.frames[..self.count.min(MAX_FRAMES)]
    }
    /// The mode the peer asks us to send, if any.
    pub fn requested_mode(&self) -> Option<u8> {
        (self.cmr <= 8).then_some(self.cmr)
    }
}

struct BitReader<'a> {
    buf: &'a [u8],
    pos: usize, // in bits
}

impl BitReader<'_> {
    fn read(&mut self, n: usize) -> Result<u8, Error> {
        let mut v = 0u8;
        for _ in 0..n {
            let byte = *self.buf.get(self.pos / 8).ok_or(Error::Truncated)?;
            v = (v << 1) | ((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Ok(v)
    }

    /// Reads `bits` bits into `dst` MSB first (zero padding the last octet).
    fn read_into(&mut self, bits: usize, dst: &mut [u8]) -> Result<(), Error> {
        if self.pos + bits > self.buf.len() * 8 {
            return Err(Error::Truncated);
        }
        let shift = self.pos % 8;
        let start = self.pos / 8;
        let octets = bits.div_ceil(8);
        let dst = dst.get_mut(..octets).ok_or(Error::Truncated)?;
        for (i, d) in dst.iter_mut().enumerate() {
            let hi = self.buf.get(start + i).copied().unwrap_or(0);
            let lo = self.buf.get(start + i + 1).copied().unwrap_or(0);
            *d = if shift == 0 { hi } else { (hi << shift) | (lo >> (8 - shift)) };
        }
        if bits % 8 != 0 {
            if let Some(last) = dst.last_mut() {
                *last &= 0xffu8 << (8 - bits % 8);
            }
        }
        self.pos += bits;
        Ok(())
    }
}

struct BitWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl BitWriter<'_> {
    fn write(&mut self, v: u8, n: usize) -> Result<(), Error> {
        for i in (0..n).rev() {
            let byte = self.buf.get_mut(self.pos / 8).ok_or(Error::BufferTooSmall)?;
            let bit = (v >> i) & 1;
            let sh = 7 - self.pos % 8;
            *byte = (*byte & !(1 << sh)) | (bit << sh);
            self.pos += 1;
        }
        Ok(())
    }

    fn write_bits(&mut self, src: &[u8], bits: usize) -> Result<(), Error> {
        let mut left = bits;
        for &b in src {
            if left == 0 {
                break;
            }
            let n = left.min(8);
            self.write(b >> (8 - n), n)?;
            left -= n;
        }
        if left > 0 {
            return Err(Error::Truncated);
        }
        Ok(())
    }
}

/// Parses an RTP payload into `out` (reused between packets: no allocation).
pub fn depacketize(payload: &[u8], framing: Framing, out: &mut Payload) -> Result<(), Error> {
    out.count = 0;
    if payload.is_empty() {
        return Err(Error::Empty);
    }
    let mut r = BitReader { buf: payload, pos: 0 };
    // CMR (+ 4 reserved bits when octet-aligned)
    out.cmr = r.read(4)?;
    if framing == Framing::OctetAligned {
        r.read(4)?;
    }
    // table of contents
    loop {
        let f = r.read(1)?;
        let ft = r.read(4)?;
        let q = r.read(1)? == 1;
        if framing == Framing::OctetAligned {
            r.read(2)?;
        }
        if frame_bits(ft).is_none() {
            return Err(Error::BadFrameType(ft));
        }
        let slot = out.frames.get_mut(out.count).ok_or(Error::TooManyFrames)?;
        slot.ft = ft;
        slot.q = q;
        out.count += 1;
        if f == 0 {
            break;
        }
    }
    // speech data
    for i in 0..out.count {
        let frame = &mut out.frames[i.min(MAX_FRAMES - 1)];
        let bits = frame_bits(frame.ft).unwrap_or(0) as usize;
        frame.data = [0; 60];
        r.read_into(bits, &mut frame.data)?;
        if framing == Framing::OctetAligned {
            r.pos = r.pos.div_ceil(8) * 8;
        }
    }
    // at most the padding of the last octet may remain
    if r.pos.div_ceil(8) != payload.len() {
        out.count = 0;
        return Err(Error::TrailingData);
    }
    Ok(())
}

/// Writes an RTP payload with `cmr` and `frames` into `out`; returns its length.
pub fn packetize(cmr: u8, frames: &[Frame], framing: Framing, out: &mut [u8]) -> Result<usize, Error> {
    if frames.is_empty() {
        return Err(Error::Empty);
    }
    if frames.len() > MAX_FRAMES {
        return Err(Error::TooManyFrames);
    }
    if cmr > 15 {
        return Err(Error::BadParameter);
    }
    let mut w = BitWriter { buf: out, pos: 0 };
    w.write(cmr, 4)?;
    if framing == Framing::OctetAligned {
        w.write(0, 4)?;
    }
    for (i, f) in frames.iter().enumerate() {
        if frame_bits(f.ft).is_none() {
            return Err(Error::BadFrameType(f.ft));
        }
        w.write((i + 1 < frames.len()) as u8, 1)?;
        w.write(f.ft, 4)?;
        w.write(f.q as u8, 1)?;
        if framing == Framing::OctetAligned {
            w.write(0, 2)?;
        }
    }
    for f in frames {
        let bits = frame_bits(f.ft).unwrap_or(0) as usize;
        w.write_bits(&f.data, bits)?;
        if framing == Framing::OctetAligned {
            while w.pos % 8 != 0 {
                w.write(0, 1)?;
            }
        }
    }
    while w.pos % 8 != 0 {
        w.write(0, 1)?;
    }
    Ok(w.pos / 8)
}

/// The AMR-WB `a=fmtp` parameters (RFC 4867 §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fmtp {
    pub octet_align: bool,
    /// Allowed modes, bit i = mode i (all when absent).
    pub mode_set: u16,
    pub mode_change_period: u8,
    pub mode_change_capability: u8,
    pub mode_change_neighbor: bool,
    pub max_red: Option<u32>,
    pub crc: bool,
    pub robust_sorting: bool,
    pub interleaving: bool,
    pub channels: u8,
}

impl Default for Fmtp {
    fn default() -> Self {
        Fmtp {
            octet_align: false,
            mode_set: 0x1ff,
            mode_change_period: 1,
            mode_change_capability: 1,
            mode_change_neighbor: false,
            max_red: None,
            crc: false,
            robust_sorting: false,
            interleaving: false,
            channels: 1,
        }
    }
}

impl Fmtp {
    /// Parses the parameter part of an `a=fmtp:` line (`octet-align=1; mode-set=0,2`).
    /// Unknown parameters are ignored; a known one with a bad value is an error.
    pub fn parse(s: &str) -> Result<Fmtp, Error> {
        let mut f = Fmtp::default();
        for item in s.split(';') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            let (k, v) = (k.trim(), v.trim());
            let flag = || match v {
                "0" => Ok(false),
                "1" => Ok(true),
                _ => Err(Error::BadParameter),
            };
            match k.to_ascii_lowercase().as_str() {
                "octet-align" => f.octet_align = flag()?,
                "mode-set" => {
                    let mut mask = 0u16;
                    for m in v.split(',') {
                        let m: u8 = m.trim().parse().map_err(|_| Error::BadParameter)?;
                        if m > 8 {
                            return Err(Error::BadParameter);
                        }
                        mask |= 1 << m;
                    }
                    f.mode_set = mask;
                }
                "mode-change-period" => {
                    f.mode_change_period = match v {
                        "1" => 1,
                        "2" => 2,
                        _ => return Err(Error::BadParameter),
                    }
                }
                "mode-change-capability" => {
                    f.mode_change_capability = match v {
                        "1" => 1,
                        "2" => 2,
                        _ => return Err(Error::BadParameter),
                    }
                }
                "mode-change-neighbor" => f.mode_change_neighbor = flag()?,
                "max-red" => f.max_red = Some(v.parse().map_err(|_| Error::BadParameter)?),
                "crc" => f.crc = flag()?,
                "robust-sorting" => f.robust_sorting = flag()?,
                "interleaving" => {
                    let n: u32 = v.parse().map_err(|_| Error::BadParameter)?;
                    f.interleaving = n > 0;
                }
                "channels" => f.channels = v.parse().map_err(|_| Error::BadParameter)?,
                _ => {}
            }
        }
        Ok(f)
    }

    /// Whether this end can receive and send with these parameters (one channel, no
    /// CRC, robust sorting or interleaving).
    pub fn supported(&self) -> bool {
        !self.crc && !self.robust_sorting && !self.interleaving && self.channels == 1
    }

    pub fn framing(&self) -> Framing {
        if self.octet_align || self.crc || self.robust_sorting || self.interleaving {
            Framing::OctetAligned
        } else {
            Framing::BandwidthEfficient
        }
    }

    /// Whether frame type `ft` may be sent / requested under `mode-set` (SID, SPEECH_LOST
    /// and NO_DATA always may).
    pub fn allows(&self, ft: u8) -> bool {
        match ft {
            0..=8 => self.mode_set & (1 << ft) != 0,
            9 | 14 | 15 => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ft: u8, seed: u8) -> Frame {
        let mut f = Frame { ft, q: true, data: [0; 60] };
        let bits = frame_bits(ft).unwrap() as usize;
        for i in 0..bits.div_ceil(8) {
            f.data[i] = seed.wrapping_mul(31).wrapping_add(i as u8 * 7) | 0x81;
        }
        if bits % 8 != 0 {
            f.data[bits / 8] &= 0xffu8 << (8 - bits % 8);
        }
        f
    }

    #[test]
    fn single_frame_sizes_match_rfc_4867() {
        // (FT, BE payload, OA payload) from the frame-size table
        let sizes = [
            (0, 18, 19),
            (1, 24, 25),
            (2, 33, 34),
            (3, 37, 38),
            (4, 41, 42),
            (5, 47, 48),
            (6, 51, 52),
            (7, 59, 60),
            (8, 61, 62),
            (9, 7, 7),
            (15, 2, 2),
        ];
        for (ft, be, oa) in sizes {
            let mut buf = [0u8; 128];
            let f = frame(ft, 3);
            assert_eq!(packetize(CMR_NONE, &[f], Framing::BandwidthEfficient, &mut buf), Ok(be), "FT {ft} BE");
            assert_eq!(packetize(CMR_NONE, &[f], Framing::OctetAligned, &mut buf), Ok(oa), "FT {ft} OA");
        }
    }

    #[test]
    fn known_bandwidth_efficient_header() {
        // CMR 2, one 12.65 frame with Q=1: 0010 0 0010 1 -> 0x21 0x4. (then speech bits)
        let f = frame(2, 9);
        let mut buf = [0u8; 64];
        let n = packetize(2, &[f], Framing::BandwidthEfficient, &mut buf).unwrap();
        assert_eq!(n, 33);
        assert_eq!(buf[0], 0x21);
        assert_eq!(buf[1] >> 6, 0b01);
        // speech starts at bit 10
        assert_eq!(((buf[1] & 0x3f) << 2) | (buf[2] >> 6), f.data[0]);
        // octet-aligned: CMR octet 0x20, ToC 0x14 (F=0, FT=2, Q=1)
        let n = packetize(2, &[f], Framing::OctetAligned, &mut buf).unwrap();
        assert_eq!((n, buf[0], buf[1]), (34, 0x20, 0x14));
        assert_eq!(&buf[2..34], &f.data[..32]);
    }

    #[test]
    fn multi_frame_round_trip_both_framings() {
        let frames = [frame(8, 1), frame(2, 2), frame(9, 3), frame(15, 4), frame(0, 5)];
        for framing in [Framing::BandwidthEfficient, Framing::OctetAligned] {
            let mut buf = [0u8; 256];
            let n = packetize(5, &frames, framing, &mut buf).unwrap();
            let mut p = Payload::default();
            depacketize(&buf[..n], framing, &mut p).unwrap();
            assert_eq!(p.requested_mode(), Some(5));
            assert_eq!(p.frames(), &frames);
            // every truncation is an error, never a panic
            for cut in 0..n {
                assert!(depacketize(&buf[..cut], framing, &mut p).is_err(), "{framing:?} cut {cut}");
            }
            // one octet too many
            assert_eq!(depacketize(&buf[..n + 1], framing, &mut p), Err(Error::TrailingData));
        }
    }

    #[test]
    fn quality_bit_and_bad_types() {
        let mut f = frame(1, 7);
        f.q = false;
        let mut buf = [0u8; 64];
        let n = packetize(CMR_NONE, &[f], Framing::OctetAligned, &mut buf).unwrap();
        let mut p = Payload::default();
        depacketize(&buf[..n], Framing::OctetAligned, &mut p).unwrap();
        assert!(!p.frames()[0].q);
        assert_eq!(p.requested_mode(), None);
        // reserved FT 12
        assert_eq!(depacketize(&[0xf0, 0x60], Framing::OctetAligned, &mut p), Err(Error::BadFrameType(12)));
        // 17 NO_DATA frames chained with F=1
        let mut many = vec![0xf0u8];
        many.extend(std::iter::repeat(0xfc).take(17));
        assert_eq!(depacketize(&many, Framing::OctetAligned, &mut p), Err(Error::TooManyFrames));
        assert_eq!(depacketize(&[], Framing::BandwidthEfficient, &mut p), Err(Error::Empty));
        // storage conversion
        let mut st = [0u8; 61];
        let g = frame(8, 1);
        let k = g.to_storage(&mut st);
        assert_eq!((k, st[0]), (61, 0x44));
        assert_eq!(Frame::from_storage(&st[..k]), Ok(g));
        assert_eq!(Frame::from_storage(&st[..10]), Err(Error::Truncated));
    }

    #[test]
    fn fmtp_parsing() {
        let f = Fmtp::parse("octet-align=1; mode-set=0,2,4; mode-change-capability=2; max-red=220").unwrap();
        assert!(f.octet_align);
        assert_eq!(f.mode_set, 0b10101);
        assert_eq!(f.mode_change_capability, 2);
        assert_eq!(f.max_red, Some(220));
        assert_eq!(f.framing(), Framing::OctetAligned);
        assert!(f.allows(2) && !f.allows(8) && f.allows(9) && f.allows(15) && !f.allows(11));
        assert!(f.supported());
        let d = Fmtp::parse("").unwrap();
        assert_eq!(d.framing(), Framing::BandwidthEfficient);
        assert_eq!(d.mode_set, 0x1ff);
        assert!(Fmtp::parse("mode-set=9").is_err());
        assert!(Fmtp::parse("octet-align=2").is_err());
        assert!(!Fmtp::parse("interleaving=4").unwrap().supported());
        assert!(Fmtp::parse("foo=bar;;").is_ok());
    }
}
