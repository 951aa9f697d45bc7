//! Framing of TURN over a byte stream (TCP, TLS; RFC 8656 §12.5 and RFC 7983 on the
//! stream): STUN messages (first byte 0–3) are 20 bytes of header plus their length;
//! ChannelData (first byte 0x40–0x7F: RFC 8656's 0x40–0x4F and the rest of RFC 5766's
//! channel range) is 4 bytes plus its length, padded to a multiple of 4 on a stream.
//! Anything else cannot be resynchronised: the connection is closed.

/// The largest message a stream may carry (a STUN message or ChannelData of 64 KiB).
pub const MAX_FRAME: usize = 4 + 65535 + 3;

/// The length of the first complete message at the start of `buf`: `Ok(None)` when more
/// bytes are needed, `Err` when the stream is not TURN.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, &'static str> {
    let Some(&first) = buf.first() else { return Ok(None) };
    match first {
        0..=3 => {
            if buf.len() < 8 {
                return Ok(None);
            }
            if buf[4..8] != [0x21, 0x12, 0xa4, 0x42] {
                return Err("STUN without the magic cookie on a stream");
            }
            let len = u16::from_be_bytes([buf[2], buf[3]]) as usize;
            if len % 4 != 0 {
                return Err("STUN length not a multiple of 4");
            }
            Ok((buf.len() >= 20 + len).then_some(20 + len))
        }
        0x40..=0x7f => {
            if buf.len() < 4 {
                return Ok(None);
            }
            let len = (4 + u16::from_be_bytes([buf[2], buf[3]]) as usize + 3) & !3;
            Ok((buf.len() >= len).then_some(len))
        }
        _ => Err("neither STUN nor ChannelData on a stream"),
    }
}

/// The bytes of one stream connection not yet framed.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// Bytes at the front already handed out as messages.
    start: usize,
}

impl Framer {
    /// Room for the next read: the caller reads into it and calls [`Framer::filled`].
    pub fn room(&mut self, want: usize) -> &mut [u8] {
        if self.start > 0 && (self.start == self.buf.len() || self.start > 4096) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + want, 0);
        &mut self.buf[len..]
    }

    /// `n` bytes of the room were filled (the rest is given back).
    pub fn filled(&mut self, want: usize, n: usize) {
        let len = self.buf.len() - want + n.min(want);
        self.buf.truncate(len);
    }

    /// Appends bytes (for tests and the fuzz target; the worker reads into [`Framer::room`]).
    pub fn push(&mut self, data: &[u8]) {
        self.room(data.len()).copy_from_slice(data);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed, `Err` when the
    /// stream is broken (not TURN) or buffers more than a message can be long.
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, &'static str> {
        let pending = &self.buf[self.start..];
        match frame_len(pending)? {
            Some(n) => {
                let at = self.start;
                self.start += n;
                Ok(Some(&self.buf[at..at + n]))
            }
            None if pending.len() > MAX_FRAME => Err("message too long"),
            None => Ok(None),
        }
    }

    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::turn::client;

    #[test]
    fn frames_stun_and_padded_channel_data_across_any_split() {
        let mut stream = vec![];
        let a = client::send_indication("192.0.2.1:5".parse().unwrap(), b"hello", [1; 12]);
        let b = client::channel_data(0x4001, b"abcde");
        let c = client::channel_data(0x4002, b"");
        stream.extend_from_slice(&a);
        stream.extend_from_slice(&b);
        stream.extend_from_slice(&c);
        assert_eq!(b.len(), 12);
        for split in 1..stream.len() {
            let mut f = Framer::default();
            let mut got = vec![];
            for chunk in stream.chunks(split) {
                f.push(chunk);
                while let Some(m) = f.next_message().unwrap() {
                    got.push(m.to_vec());
                }
            }
            assert_eq!(got, vec![a.clone(), b.clone(), c.clone()], "split {split}");
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn garbage_and_cut_messages() {
        assert!(frame_len(b"\x16\x03\x01\x02\x00").is_err(), "a TLS ClientHello on the plain port");
        assert!(frame_len(b"\x80\x00\x00\x01").is_err(), "RTP");
        assert!(frame_len(&[0, 1, 0, 4, 1, 2, 3, 4]).is_err(), "no cookie");
        assert!(frame_len(&[0, 1, 0, 5, 0x21, 0x12, 0xa4, 0x42]).is_err(), "length not 4-aligned");
        assert_eq!(frame_len(&[0x40, 0, 0, 5, 1, 2, 3, 4, 5]), Ok(None), "padding still to come");
        assert_eq!(frame_len(&[]), Ok(None));
        let mut f = Framer::default();
        f.push(&[0x40, 0, 0xff, 0xff]);
        f.push(&vec![0; 65536]);
        assert_eq!(f.next_message().unwrap().map(|m| m.len()), Some(65540));
        let mut f = Framer::default();
        f.push(&[0x40, 0, 0xff, 0xff]);
        assert_eq!(f.next_message(), Ok(None));
        // the room/filled pair gives back what was not read
        let mut f = Framer::default();
        let r = f.room(100);
        r[..4].copy_from_slice(&[0x40, 1, 0, 0]);
        f.filled(100, 4);
        assert_eq!(f.next_message().unwrap(), Some(&[0x40, 1, 0, 0][..]));
    }
}
