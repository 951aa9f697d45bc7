//! SDP (RFC 8866, formerly RFC 4566) parsing and serialization.
//!
//! The model is deliberately thin: a session description is the list of session-level lines
//! (`v=` up to the first `m=`) plus one [`Media`] per `m=` section, and every line other than
//! `m=` is kept verbatim as a [`Line`]. Only the `m=` line is decomposed, because the gateway
//! rewrites ports and formats; everything else is interpreted on demand through the helpers
//! ([`parse_connection`], [`parse_origin`], [`parse_rtpmap`], [`parse_rtcp_attr`]).
//!
//! Strict where it matters (line syntax, `v=0` first, complete `m=` lines, numbers in range),
//! tolerant elsewhere: CRLF or bare LF line endings, trailing empty lines, unknown line letters
//! (kept), and extra whitespace inside `m=` lines. Input comes from the network, so the parser
//! never panics and bounds its work: at most [`MAX_SDP_BYTES`] of input, [`MAX_MEDIA_SECTIONS`]
//! `m=` sections and [`MAX_SECTION_LINES`] lines per section.
//!
//! Serializing always uses CRLF and rebuilds the `m=` line from the [`Media`] fields, so
//! `parse(&sdp.to_string_crlf()) == Ok(sdp)` for anything [`parse`] returned, and well-formed
//! CRLF input is reproduced byte for byte.

use std::fmt;
use std::fmt::Write as _;

/// Largest accepted SDP body in bytes (both as received and once re-serialized with CRLF).
pub const MAX_SDP_BYTES: usize = 256 * 1024;
/// Most `m=` sections in one session description.
pub const MAX_MEDIA_SECTIONS: usize = 64;
/// Most lines in the session section, or after the `m=` line of one media section.
pub const MAX_SECTION_LINES: usize = 512;

/// One `<kind>=<value>` line other than `m=`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The line letter: `b'v'`, `b'o'`, `b's'`, `b'c'`, `b'a'`, ...
    pub kind: u8,
    /// Everything after the `=`, as written (no line terminator).
    pub value: String,
}

/// One media section: the decomposed `m=` line and the lines that follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// "audio", "video", "application", ...
    pub media: String,
    pub port: u16,
    /// `m=audio 49170/2 ...` gives `Some(2)`.
    pub port_count: Option<u16>,
    /// "RTP/AVP", "UDP/TLS/RTP/SAVPF", ...
    pub proto: String,
    /// Payload types / fmt tokens as written.
    pub formats: Vec<String>,
    /// Every line after the `m=` line up to the next `m=` (c=, b=, a=, ...), in order.
    pub lines: Vec<Line>,
}

/// A parsed session description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sdp {
    /// `v=` up to (not including) the first `m=`.
    pub session: Vec<Line>,
    pub media: Vec<Media>,
}

/// Why an SDP body was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpError {
    /// 1-based line number; 0 means the input as a whole.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "SDP: {}", self.reason)
        } else {
            write!(f, "SDP line {}: {}", self.line, self.reason)
        }
    }
}

impl std::error::Error for SdpError {}

fn error(line: usize, reason: impl Into<String>) -> SdpError {
    SdpError {
        line,
        reason: reason.into(),
    }
}

/// Address family of a `c=` / `o=` address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Ip4,
    Ip6,
}

impl Family {
    fn as_str(self) -> &'static str {
        match self {
            Family::Ip4 => "IP4",
            Family::Ip6 => "IP6",
        }
    }

    fn parse(token: &str) -> Option<Family> {
        if token.eq_ignore_ascii_case("IP4") {
            Some(Family::Ip4)
        } else if token.eq_ignore_ascii_case("IP6") {
            Some(Family::Ip6)
        } else {
            None
        }
    }
}

/// Value of a `c=` line (`IN IP4 1.2.3.4`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub family: Family,
    /// As written: may be a hostname or carry `/ttl` (and `/count`).
    pub address: String,
}

/// Value of an `o=` line (`- 1234 1 IN IP4 1.2.3.4`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub sess_id: String,
    pub sess_version: String,
    pub family: Family,
    pub address: String,
}

/// Value of an `a=rtpmap:` attribute (`96 opus/48000/2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtpmap {
    pub pt: u8,
    pub encoding: String,
    pub clock: u32,
    pub channels: Option<u8>,
}

/// Value of an `a=rtcp:` attribute (RFC 3605: `53020` or `53020 IN IP4 126.16.64.4`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtcpAttr {
    pub port: u16,
    pub connection: Option<Connection>,
}

// ---------------------------------------------------------------------------------------------
// Numbers

enum NumError {
    /// Empty or not all ASCII digits.
    Invalid,
    /// Digits, but above the allowed maximum.
    Range,
}

/// Plain decimal (digits only: no sign, no whitespace) up to `max`.
fn parse_dec(s: &str, max: u64) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Invalid);
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(NumError::Invalid);
        }
        v = v.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    if v > max {
        Err(NumError::Range)
    } else {
        Ok(v)
    }
}

fn dec_u16(s: &str) -> Option<u16> {
    parse_dec(s, u64::from(u16::MAX))
        .ok()
        .and_then(|v| u16::try_from(v).ok())
}

/// Number of decimal digits of `n`.
fn dec_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses an SDP body. Accepts CRLF or LF line endings; trailing empty lines are ignored.
///
/// # Errors
///
/// [`SdpError`] with the offending 1-based line number (0 for size limits and empty input)
/// for malformed lines, a first line other than `v=0`, incomplete `m=` lines, numbers out of
/// range, and exceeded limits.
pub fn parse(input: &str) -> Result<Sdp, SdpError> {
    if input.len() > MAX_SDP_BYTES {
        return Err(error(
            0,
            format!("too large ({} bytes, limit {MAX_SDP_BYTES})", input.len()),
        ));
    }

    let mut session: Vec<Line> = Vec::new();
    let mut media: Vec<Media> = Vec::new();
    // An empty line is only acceptable if nothing but empty lines follows it.
    let mut pending_empty: Option<usize> = None;

    for (index, raw) in input.split('\n').enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            pending_empty.get_or_insert(number);
            continue;
        }
        if let Some(empty) = pending_empty {
            return Err(error(empty, "empty line"));
        }

        let bytes = line.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
            return Err(error(number, "expected <letter>=<value>"));
        }
        let kind = bytes[0];
        // Bytes 0 and 1 are ASCII, so 2 is a char boundary; `get` keeps this panic-free anyway.
        let value = line.get(2..).unwrap_or("");
        if value.bytes().any(|b| b == b'\r' || b == 0) {
            return Err(error(number, "CR or NUL inside a line"));
        }

        if session.is_empty() && (kind != b'v' || value.trim() != "0") {
            return Err(error(number, "first line must be v=0"));
        }

        if kind == b'm' {
            if media.len() >= MAX_MEDIA_SECTIONS {
                return Err(error(
                    number,
                    format!("more than {MAX_MEDIA_SECTIONS} media sections"),
                ));
            }
            media.push(parse_media_line(value, number)?);
            continue;
        }

        let section = match media.last_mut() {
            Some(m) => &mut m.lines,
            None => &mut session,
        };
        if section.len() >= MAX_SECTION_LINES {
            return Err(error(
                number,
                format!("more than {MAX_SECTION_LINES} lines in one section"),
            ));
        }
        section.push(Line {
            kind,
            value: value.to_owned(),
        });
    }

    if session.is_empty() {
        return Err(error(0, "empty"));
    }
    let sdp = Sdp { session, media };
    // Re-serializing turns LF into CRLF and so can grow the body; enforce the limit on that form
    // too, so whatever is accepted here also parses again after `to_string_crlf`.
    let len = sdp.encoded_len();
    if len > MAX_SDP_BYTES {
        return Err(error(
            0,
            format!("too large once serialized ({len} bytes, limit {MAX_SDP_BYTES})"),
        ));
    }
    Ok(sdp)
}

/// At most 32 characters of an input token, for error messages.
fn snippet(token: &str) -> String {
    let mut out: String = token.chars().take(32).collect();
    if out.len() < token.len() {
        out.push_str("...");
    }
    out
}

/// Whether `proto` is an RTP profile, whose formats are RTP payload types.
fn is_rtp_proto(proto: &str) -> bool {
    proto
        .split('/')
        .any(|part| part.eq_ignore_ascii_case("RTP"))
}

/// `<media> <port>[/<count>] <proto> <fmt> ...`
fn parse_media_line(value: &str, number: usize) -> Result<Media, SdpError> {
    let mut tokens = value.split_ascii_whitespace();
    let media = tokens
        .next()
        .ok_or_else(|| error(number, "m= line without media type"))?;
    let port_token = tokens
        .next()
        .ok_or_else(|| error(number, "m= line without port"))?;
    let proto = tokens
        .next()
        .ok_or_else(|| error(number, "m= line without transport protocol"))?;
    let formats: Vec<String> = tokens.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(error(number, "m= line without formats"));
    }

    let (port_str, count_str) = match port_token.split_once('/') {
        Some((port, count)) => (port, Some(count)),
        None => (port_token, None),
    };
    let port = match parse_dec(port_str, u64::from(u16::MAX)) {
        Ok(v) => u16::try_from(v).map_err(|_| error(number, "port out of range"))?,
        Err(NumError::Range) => {
            return Err(error(
                number,
                format!("port out of range: {}", snippet(port_str)),
            ))
        }
        Err(NumError::Invalid) => {
            return Err(error(
                number,
                format!("invalid port: {}", snippet(port_str)),
            ))
        }
    };
    let port_count = match count_str {
        None => None,
        Some(count) => match parse_dec(count, u64::from(u16::MAX)) {
            Ok(0) | Err(NumError::Range) => {
                return Err(error(
                    number,
                    format!("port count out of range: {}", snippet(count)),
                ))
            }
            Ok(v) => Some(u16::try_from(v).map_err(|_| error(number, "port count out of range"))?),
            Err(NumError::Invalid) => {
                return Err(error(
                    number,
                    format!("invalid port count: {}", snippet(count)),
                ))
            }
        },
    };

    if is_rtp_proto(proto) {
        for fmt in &formats {
            match parse_dec(fmt, 127) {
                Ok(_) => {}
                Err(NumError::Range) => {
                    return Err(error(
                        number,
                        format!("RTP payload type out of range: {}", snippet(fmt)),
                    ))
                }
                Err(NumError::Invalid) => {
                    return Err(error(
                        number,
                        format!("invalid RTP payload type: {}", snippet(fmt)),
                    ))
                }
            }
        }
    }

    Ok(Media {
        media: media.to_owned(),
        port,
        port_count,
        proto: proto.to_owned(),
        formats,
        lines: Vec::new(),
    })
}

/// Parses the value of a `c=` line: `IN IP4 <address>` / `IN IP6 <address>`.
pub fn parse_connection(value: &str) -> Option<Connection> {
    let mut tokens = value.split_ascii_whitespace();
    let nettype = tokens.next()?;
    let family = Family::parse(tokens.next()?)?;
    let address = tokens.next()?;
    if tokens.next().is_some() || !nettype.eq_ignore_ascii_case("IN") {
        return None;
    }
    Some(Connection {
        family,
        address: address.to_owned(),
    })
}

/// Formats the value of a `c=` line: `IN IP4 1.2.3.4`.
pub fn format_connection(family: Family, addr: &str) -> String {
    format!("IN {} {}", family.as_str(), addr)
}

/// Parses the value of an `o=` line:
/// `<username> <sess-id> <sess-version> IN <IP4|IP6> <address>`.
pub fn parse_origin(value: &str) -> Option<Origin> {
    let mut tokens = value.split_ascii_whitespace();
    let username = tokens.next()?;
    let sess_id = tokens.next()?;
    let sess_version = tokens.next()?;
    let nettype = tokens.next()?;
    let family = Family::parse(tokens.next()?)?;
    let address = tokens.next()?;
    if tokens.next().is_some() || !nettype.eq_ignore_ascii_case("IN") {
        return None;
    }
    Some(Origin {
        username: username.to_owned(),
        sess_id: sess_id.to_owned(),
        sess_version: sess_version.to_owned(),
        family,
        address: address.to_owned(),
    })
}

impl Origin {
    /// The `o=` line value.
    pub fn format(&self) -> String {
        format!(
            "{} {} {} IN {} {}",
            self.username,
            self.sess_id,
            self.sess_version,
            self.family.as_str(),
            self.address
        )
    }
}

/// Parses the value of `a=rtpmap:`: `<pt> <encoding>/<clock>[/<channels>]`.
pub fn parse_rtpmap(value: &str) -> Option<Rtpmap> {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let split = value.find(|c: char| c.is_ascii_whitespace())?;
    let (pt, rest) = value.split_at(split);
    let pt = u8::try_from(parse_dec(pt, 127).ok()?).ok()?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if rest.contains(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let mut parts = rest.split('/');
    let encoding = parts.next().filter(|e| !e.is_empty())?;
    let clock = u32::try_from(parse_dec(parts.next()?, u64::from(u32::MAX)).ok()?).ok()?;
    let channels = match parts.next() {
        None => None,
        Some(ch) => Some(u8::try_from(parse_dec(ch, u64::from(u8::MAX)).ok()?).ok()?),
    };
    if parts.next().is_some() {
        return None;
    }
    Some(Rtpmap {
        pt,
        encoding: encoding.to_owned(),
        clock,
        channels,
    })
}

/// Parses the value of `a=rtcp:`: `<port>` or `<port> IN <IP4|IP6> <address>`.
pub fn parse_rtcp_attr(value: &str) -> Option<RtcpAttr> {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let (port, rest) = match value.find(|c: char| c.is_ascii_whitespace()) {
        Some(split) => value.split_at(split),
        None => (value, ""),
    };
    let port = dec_u16(port)?;
    let connection = if rest.trim().is_empty() {
        None
    } else {
        Some(parse_connection(rest)?)
    };
    Some(RtcpAttr { port, connection })
}

// ---------------------------------------------------------------------------------------------
// Accessors

impl Line {
    /// For an `a=` line, `(name, value)`; the value is `""` for a flag attribute (no `:`).
    pub fn attr(&self) -> Option<(&str, &str)> {
        if self.kind != b'a' {
            return None;
        }
        Some(match self.value.split_once(':') {
            Some((name, value)) => (name, value),
            None => (self.value.as_str(), ""),
        })
    }
}

fn attrs_in<'a>(lines: &'a [Line], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    lines.iter().filter_map(move |line| match line.attr() {
        Some((n, v)) if n == name => Some(v),
        _ => None,
    })
}

fn first_attr<'a>(lines: &'a [Line], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|line| match line.attr() {
        Some((n, v)) if n == name => Some(v),
        _ => None,
    })
}

fn connection_in(lines: &[Line]) -> Option<Connection> {
    lines
        .iter()
        .find(|l| l.kind == b'c')
        .and_then(|l| parse_connection(&l.value))
}

impl Sdp {
    /// Appends the description with CRLF line endings; `m=` lines are rebuilt from [`Media`].
    pub fn write(&self, out: &mut String) {
        out.reserve(self.encoded_len());
        write_lines(&self.session, out);
        for m in &self.media {
            out.push_str("m=");
            out.push_str(&m.media);
            // Writing into a String cannot fail.
            let _ = write!(out, " {}", m.port);
            if let Some(count) = m.port_count {
                let _ = write!(out, "/{count}");
            }
            out.push(' ');
            out.push_str(&m.proto);
            for fmt in &m.formats {
                out.push(' ');
                out.push_str(fmt);
            }
            out.push_str("\r\n");
            write_lines(&m.lines, out);
        }
    }

    pub fn to_string_crlf(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Exact length of [`Sdp::write`]'s output.
    fn encoded_len(&self) -> usize {
        let lines_len = |lines: &[Line]| -> usize {
            lines
                .iter()
                .map(|l| char_len(l.kind) + 1 + l.value.len() + 2)
                .sum()
        };
        let mut len = lines_len(&self.session);
        for m in &self.media {
            len += 2 + m.media.len() + 1 + dec_len(u64::from(m.port));
            if let Some(count) = m.port_count {
                len += 1 + dec_len(u64::from(count));
            }
            len += 1 + m.proto.len();
            len += m.formats.iter().map(|f| 1 + f.len()).sum::<usize>();
            len += 2 + lines_len(&m.lines);
        }
        len
    }

    /// Value of the first session-level `a=name[:value]`; `Some("")` for a flag attribute.
    pub fn session_attr(&self, name: &str) -> Option<&str> {
        first_attr(&self.session, name)
    }

    /// The session-level `c=` line, if present and understood.
    pub fn session_connection(&self) -> Option<Connection> {
        connection_in(&self.session)
    }
}

/// UTF-8 length of `kind` written as a char (1 for the ASCII letters `parse` produces).
fn char_len(kind: u8) -> usize {
    char::from(kind).len_utf8()
}

fn write_lines(lines: &[Line], out: &mut String) {
    for line in lines {
        out.push(char::from(line.kind));
        out.push('=');
        out.push_str(&line.value);
        out.push_str("\r\n");
    }
}

impl Media {
    /// Value of the first `a=name` / `a=name:value` in this section (`""` for flags).
    pub fn attr(&self, name: &str) -> Option<&str> {
        first_attr(&self.lines, name)
    }

    /// Values of every `a=name[:value]` in this section, in order.
    pub fn attrs<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        attrs_in(&self.lines, name)
    }

    pub fn has_attr(&self, name: &str) -> bool {
        self.attr(name).is_some()
    }

    /// Removes the `a=` lines for which `pred(name, value)` is true.
    pub fn remove_attrs(&mut self, mut pred: impl FnMut(&str, &str) -> bool) {
        self.lines.retain(|line| match line.attr() {
            Some((name, value)) => !pred(name, value),
            None => true,
        });
    }

    /// The media-level `c=` line, if present and understood.
    pub fn connection(&self) -> Option<Connection> {
        connection_in(&self.lines)
    }

    /// The `a=rtpmap:` for payload type `pt` (compared numerically), if present and valid.
    pub fn rtpmap(&self, pt: &str) -> Option<Rtpmap> {
        let want = parse_dec(pt.trim(), 127).ok()?;
        self.attrs("rtpmap")
            .filter_map(parse_rtpmap)
            .find(|r| u64::from(r.pt) == want)
    }
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn crlf(lines: &[&str]) -> String {
        let mut s = String::new();
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s
    }

    fn chrome_offer() -> String {
        crlf(&[
            "v=0",
            "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
            "s=-",
            "t=0 0",
            "a=group:BUNDLE 0 1 2",
            "a=extmap-allow-mixed",
            "a=msid-semantic: WMS 3d5b5b0e-6f5c-4b7a-9d2e-0c7f1f1f9a11",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
            "c=IN IP4 0.0.0.0",
            "a=rtcp:9 IN IP4 0.0.0.0",
            "a=ice-ufrag:Fx3q",
            "a=ice-pwd:9hB0uOZ2b+Qd1Yk3x8ZqgN7m",
            "a=ice-options:trickle",
            "a=fingerprint:sha-256 5A:0B:63:9E:1C:44:2F:77:8D:3E:AA:10:52:6B:C9:01:7F:E2:48:D3:99:21:0C:6A:BE:35:F4:18:72:9B:C0:5D",
            "a=setup:actpass",
            "a=mid:0",
            "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
            "a=sendrecv",
            "a=msid:3d5b5b0e-6f5c-4b7a-9d2e-0c7f1f1f9a11 8c1f0a7e-2b4d-4e59-a3f6-5d0e9b7c2a14",
            "a=rtcp-mux",
            "a=rtcp-rsize",
            "a=rtpmap:111 opus/48000/2",
            "a=rtcp-fb:111 transport-cc",
            "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=rtpmap:63 red/48000/2",
            "a=fmtp:63 111/111",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:13 CN/8000",
            "a=rtpmap:110 telephone-event/48000",
            "a=rtpmap:126 telephone-event/8000",
            "a=ssrc:2935428651 cname:p0XzQm6w4Lq1Vt9r",
            "a=ssrc:2935428651 msid:3d5b5b0e-6f5c-4b7a-9d2e-0c7f1f1f9a11 8c1f0a7e-2b4d-4e59-a3f6-5d0e9b7c2a14",
            "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103",
            "c=IN IP4 0.0.0.0",
            "a=rtcp:9 IN IP4 0.0.0.0",
            "a=ice-ufrag:Fx3q",
            "a=ice-pwd:9hB0uOZ2b+Qd1Yk3x8ZqgN7m",
            "a=ice-options:trickle",
            "a=fingerprint:sha-256 5A:0B:63:9E:1C:44:2F:77:8D:3E:AA:10:52:6B:C9:01:7F:E2:48:D3:99:21:0C:6A:BE:35:F4:18:72:9B:C0:5D",
            "a=setup:actpass",
            "a=mid:1",
            "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
            "a=sendrecv",
            "a=rtcp-mux",
            "a=rtcp-rsize",
            "a=rtpmap:96 VP8/90000",
            "a=rtcp-fb:96 goog-remb",
            "a=rtcp-fb:96 transport-cc",
            "a=rtcp-fb:96 ccm fir",
            "a=rtcp-fb:96 nack",
            "a=rtcp-fb:96 nack pli",
            "a=rtpmap:97 rtx/90000",
            "a=fmtp:97 apt=96",
            "a=rtpmap:102 H264/90000",
            "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
            "a=rtpmap:103 rtx/90000",
            "a=fmtp:103 apt=102",
            "a=ssrc-group:FID 1613432417 2410328452",
            "a=ssrc:1613432417 cname:p0XzQm6w4Lq1Vt9r",
            "a=ssrc:2410328452 cname:p0XzQm6w4Lq1Vt9r",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "c=IN IP4 0.0.0.0",
            "a=ice-ufrag:Fx3q",
            "a=ice-pwd:9hB0uOZ2b+Qd1Yk3x8ZqgN7m",
            "a=ice-options:trickle",
            "a=fingerprint:sha-256 5A:0B:63:9E:1C:44:2F:77:8D:3E:AA:10:52:6B:C9:01:7F:E2:48:D3:99:21:0C:6A:BE:35:F4:18:72:9B:C0:5D",
            "a=setup:actpass",
            "a=mid:2",
            "a=sctp-port:5000",
            "a=max-message-size:262144",
        ])
    }

    fn ims_offer() -> String {
        crlf(&[
            "v=0",
            "o=SBC 1700000000 1700000001 IN IP4 10.20.30.40",
            "s=-",
            "c=IN IP4 10.20.30.40",
            "b=AS:80",
            "t=0 0",
            "m=audio 31000 RTP/AVP 116 107 118 96 111 110",
            "b=AS:49",
            "b=RS:0",
            "b=RR:2500",
            "a=rtpmap:116 AMR-WB/16000/1",
            "a=fmtp:116 mode-change-capability=2;max-red=0",
            "a=rtpmap:107 AMR-WB/16000/1",
            "a=fmtp:107 octet-align=1;mode-change-capability=2;max-red=0",
            "a=rtpmap:118 AMR/8000/1",
            "a=fmtp:118 mode-change-capability=2;max-red=0",
            "a=rtpmap:96 AMR/8000/1",
            "a=fmtp:96 octet-align=1;mode-change-capability=2;max-red=0",
            "a=rtpmap:111 telephone-event/16000",
            "a=fmtp:111 0-15",
            "a=rtpmap:110 telephone-event/8000",
            "a=fmtp:110 0-15",
            "a=ptime:20",
            "a=maxptime:240",
            "a=curr:qos local none",
            "a=curr:qos remote none",
            "a=des:qos mandatory local sendrecv",
            "a=des:qos optional remote sendrecv",
            "a=sendrecv",
            "a=rtcp:31001",
            "m=video 31002 RTP/AVPF 104 99",
            "b=AS:960",
            "a=rtpmap:104 H264/90000",
            "a=fmtp:104 profile-level-id=42C00C;packetization-mode=1;sprop-parameter-sets=Z0LADOkBQfk=,aM4G4g==",
            "a=rtpmap:99 H265/90000",
            "a=rtcp-fb:* nack",
            "a=rtcp-fb:* nack pli",
            "a=rtcp-fb:* ccm fir",
            "a=sendrecv",
        ])
    }

    fn round_trips_exactly(text: &str) -> Sdp {
        let sdp = parse(text).expect("parses");
        let out = sdp.to_string_crlf();
        assert_eq!(out, text, "byte-for-byte round trip");
        assert_eq!(out.len(), sdp.encoded_len());
        assert_eq!(parse(&out).as_ref(), Ok(&sdp));
        sdp
    }

    #[test]
    fn chromium_offer() {
        let text = chrome_offer();
        let sdp = round_trips_exactly(&text);
        assert_eq!(sdp.session.len(), 7);
        assert_eq!(sdp.session_attr("group"), Some("BUNDLE 0 1 2"));
        assert_eq!(sdp.session_attr("extmap-allow-mixed"), Some(""));
        assert_eq!(sdp.session_attr("ice-lite"), None);
        assert_eq!(sdp.session_connection(), None);
        let origin = parse_origin(&sdp.session[1].value).expect("origin");
        assert_eq!(origin.sess_id, "4611731400430051336");
        assert_eq!(origin.format(), sdp.session[1].value);

        assert_eq!(sdp.media.len(), 3);
        let audio = &sdp.media[0];
        assert_eq!(audio.media, "audio");
        assert_eq!(audio.port, 9);
        assert_eq!(audio.port_count, None);
        assert_eq!(audio.proto, "UDP/TLS/RTP/SAVPF");
        assert_eq!(
            audio.formats,
            ["111", "63", "9", "0", "8", "13", "110", "126"]
        );
        assert_eq!(audio.attr("mid"), Some("0"));
        assert!(audio.has_attr("rtcp-mux"));
        assert_eq!(
            audio.rtpmap("111"),
            Some(Rtpmap {
                pt: 111,
                encoding: "opus".into(),
                clock: 48000,
                channels: Some(2)
            })
        );
        assert_eq!(
            audio.rtpmap("0"),
            Some(Rtpmap {
                pt: 0,
                encoding: "PCMU".into(),
                clock: 8000,
                channels: None
            })
        );
        assert_eq!(audio.rtpmap("5"), None);
        assert_eq!(audio.attrs("extmap").count(), 4);
        assert_eq!(
            parse_rtcp_attr(audio.attr("rtcp").unwrap_or_default()),
            Some(RtcpAttr {
                port: 9,
                connection: Some(Connection {
                    family: Family::Ip4,
                    address: "0.0.0.0".into()
                })
            })
        );
        assert_eq!(
            audio.connection().map(|c| c.address),
            Some("0.0.0.0".to_string())
        );

        let video = &sdp.media[1];
        assert_eq!(
            video
                .attrs("rtcp-fb")
                .filter(|v| v.starts_with("96 "))
                .count(),
            5
        );
        assert_eq!(
            video.rtpmap("102").map(|r| r.encoding),
            Some("H264".to_string())
        );

        let data = &sdp.media[2];
        assert_eq!(data.proto, "UDP/DTLS/SCTP");
        assert_eq!(data.formats, ["webrtc-datachannel"]);
        assert_eq!(data.attr("sctp-port"), Some("5000"));
    }

    #[test]
    fn ims_amr_wb_offer() {
        let text = ims_offer();
        let sdp = round_trips_exactly(&text);
        assert_eq!(
            sdp.session_connection(),
            Some(Connection {
                family: Family::Ip4,
                address: "10.20.30.40".into()
            })
        );
        assert_eq!(sdp.media.len(), 2);
        let audio = &sdp.media[0];
        assert_eq!(audio.port, 31000);
        assert_eq!(audio.proto, "RTP/AVP");
        assert_eq!(audio.connection(), None);
        assert_eq!(
            audio.rtpmap("116"),
            Some(Rtpmap {
                pt: 116,
                encoding: "AMR-WB".into(),
                clock: 16000,
                channels: Some(1)
            })
        );
        assert_eq!(audio.rtpmap("111").map(|r| r.clock), Some(16000));
        assert_eq!(
            audio.attrs("curr").collect::<Vec<_>>(),
            ["qos local none", "qos remote none"]
        );
        assert_eq!(audio.attrs("fmtp").count(), 6);
        assert_eq!(
            audio.attr("rtcp").and_then(parse_rtcp_attr),
            Some(RtcpAttr {
                port: 31001,
                connection: None
            })
        );
        assert_eq!(audio.lines.iter().filter(|l| l.kind == b'b').count(), 3);
        let video = &sdp.media[1];
        assert_eq!(video.media, "video");
        assert_eq!(video.port, 31002);
        assert_eq!(video.formats, ["104", "99"]);
        assert_eq!(video.attrs("rtcp-fb").count(), 3);
    }

    #[test]
    fn lf_only_input() {
        let crlf_text = ims_offer();
        let lf_text = crlf_text.replace("\r\n", "\n");
        let sdp = parse(&lf_text).expect("LF-only parses");
        assert_eq!(Ok(&sdp), parse(&crlf_text).as_ref());
        assert_eq!(sdp.to_string_crlf(), crlf_text);
        // Mixed endings and a missing final newline are fine too.
        let mixed = "v=0\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\nt=0 0\r\nm=audio 5004 RTP/AVP 0";
        let sdp = parse(mixed).expect("mixed parses");
        assert_eq!(sdp.media[0].port, 5004);
        assert_eq!(
            sdp.to_string_crlf(),
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n"
        );
    }

    #[test]
    fn trailing_empty_lines_are_ignored() {
        let base = "v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n";
        let expected = parse(base).expect("base");
        for extra in ["\r\n", "\n", "\r\n\r\n", "\n\n\n", "\r"] {
            let text = format!("{base}{extra}");
            assert_eq!(parse(&text).as_ref(), Ok(&expected), "{text:?}");
        }
    }

    fn err_line(text: &str) -> usize {
        match parse(text) {
            Ok(sdp) => panic!("{text:?} parsed: {sdp:?}"),
            Err(e) => e.line,
        }
    }

    #[test]
    fn errors_have_line_numbers() {
        assert_eq!(err_line(""), 0);
        assert_eq!(err_line("\r\n\n"), 0);
        assert_eq!(err_line("s=-\r\nv=0\r\n"), 1);
        assert_eq!(err_line("v=1\r\n"), 1);
        assert_eq!(err_line("\r\nv=0\r\n"), 1);
        assert_eq!(err_line("v=0\r\ns=-\r\n\r\nt=0 0\r\n"), 3);
        assert_eq!(err_line("v=0\r\ns=-\r\nt 0 0\r\n"), 3);
        assert_eq!(err_line("v=0\r\ns=-\r\n=x\r\n"), 3);
        assert_eq!(err_line("v=0\r\ns=-\r\n1=x\r\n"), 3);
        assert_eq!(err_line("v=0\r\ns=-\r\nx\r\n"), 3);
        assert_eq!(err_line("v=0\ns=-\na=x\0y\n"), 3);
        assert_eq!(err_line("v=0\ns=-\na=x\ry\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 70000 RTP/AVP 0\n"), 3);
        assert_eq!(
            err_line("v=0\ns=-\nm=audio 99999999999999999999999 RTP/AVP 0\n"),
            3
        );
        assert_eq!(err_line("v=0\ns=-\nm=audio -1 RTP/AVP 0\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio +1 RTP/AVP 0\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 1/0 RTP/AVP 0\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 1/70000 RTP/AVP 0\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 1/2/3 RTP/AVP 0\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 1/ RTP/AVP 0\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 5004 RTP/AVP\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 5004\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 5004 RTP/AVP 0 128\n"), 3);
        assert_eq!(err_line("v=0\ns=-\nm=audio 5004 RTP/AVP 0 x\n"), 3);
        assert_eq!(
            err_line("v=0\ns=-\nm=audio 1 RTP/AVP 0\na=x\n\nm=audio 2 RTP/AVP 0\n"),
            5
        );

        let e = parse("v=0\ns=-\nm=audio 70000 RTP/AVP 0\n").unwrap_err();
        assert_eq!(e.to_string(), "SDP line 3: port out of range: 70000");
        assert!(parse("").unwrap_err().to_string().starts_with("SDP: "));
        let long = format!("v=0\nm=audio {} RTP/AVP 0\n", "9".repeat(1000));
        let e = parse(&long).unwrap_err();
        assert_eq!(
            (e.line, e.reason.len()),
            (2, "port out of range: ".len() + 32 + 3)
        );
    }

    #[test]
    fn limits() {
        // Input size.
        let mut big = String::from("v=0\r\n");
        while big.len() <= MAX_SDP_BYTES {
            big.push_str("a=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
        }
        assert_eq!(err_line(&big), 0);

        // LF input under the limit whose CRLF form would exceed it.
        let line = format!("a={}\n", "y".repeat(1000));
        let mut lf = String::from("v=0\n");
        let mut m = 0;
        while lf.len() + line.len() <= MAX_SDP_BYTES {
            if m % 400 == 0 {
                lf.push_str("m=audio 0 RTP/AVP 0\n");
            }
            lf.push_str(&line);
            m += 1;
        }
        let fill = MAX_SDP_BYTES - lf.len();
        lf.push_str(&format!("a={}\n", "z".repeat(fill - 3)));
        assert_eq!(lf.len(), MAX_SDP_BYTES);
        let e = parse(&lf).unwrap_err();
        assert_eq!(e.line, 0);
        assert!(e.reason.contains("serialized"), "{e}");
        // The same content in CRLF form is over the raw limit.
        assert_eq!(err_line(&lf.replace('\n', "\r\n")), 0);
        // Exactly at the limit in CRLF form is accepted.
        let mut at = String::from("v=0\r\n");
        at.push_str(&format!(
            "a={}\r\n",
            "z".repeat(MAX_SDP_BYTES - at.len() - 4)
        ));
        assert_eq!(at.len(), MAX_SDP_BYTES);
        round_trips_exactly(&at);

        // Lines per section: 512 fine, 513 not (session and media).
        let mut s = String::from("v=0\n");
        for _ in 1..MAX_SECTION_LINES {
            s.push_str("a=x\n");
        }
        assert!(parse(&s).is_ok());
        s.push_str("a=x\n");
        assert_eq!(err_line(&s), MAX_SECTION_LINES + 1);

        let mut s = String::from("v=0\nm=audio 0 RTP/AVP 0\n");
        for _ in 0..MAX_SECTION_LINES {
            s.push_str("a=x\n");
        }
        assert!(parse(&s).is_ok());
        s.push_str("a=x\n");
        assert_eq!(err_line(&s), MAX_SECTION_LINES + 3);

        // Media sections: 64 fine, 65 not.
        let mut s = String::from("v=0\n");
        for _ in 0..MAX_MEDIA_SECTIONS {
            s.push_str("m=audio 0 RTP/AVP 0\n");
        }
        assert_eq!(parse(&s).map(|sdp| sdp.media.len()), Ok(MAX_MEDIA_SECTIONS));
        s.push_str("m=audio 0 RTP/AVP 0\n");
        assert_eq!(err_line(&s), MAX_MEDIA_SECTIONS + 2);
    }

    #[test]
    fn round_trip_normalizes() {
        // Extra whitespace and leading zeros in m= are normalized; the result is a fixed point.
        let text =
            "v=0\ns=-\nm=audio  05004/02   RTP/AVP\t0  8 \nc=IN IP4 1.2.3.4\nX=unknown\nz=\n";
        let sdp = parse(text).expect("parses");
        let m = &sdp.media[0];
        assert_eq!((m.port, m.port_count), (5004, Some(2)));
        assert_eq!(m.formats, ["0", "8"]);
        let out = sdp.to_string_crlf();
        assert_eq!(
            out,
            "v=0\r\ns=-\r\nm=audio 5004/2 RTP/AVP 0 8\r\nc=IN IP4 1.2.3.4\r\nX=unknown\r\nz=\r\n"
        );
        assert_eq!(parse(&out).as_ref(), Ok(&sdp));
        assert_eq!(round_trips_exactly(&out), sdp);

        // write() appends.
        let mut buf = String::from("prefix");
        sdp.write(&mut buf);
        assert_eq!(buf, format!("prefix{out}"));
    }

    #[test]
    fn port_count_and_rejected_stream() {
        let text = crlf(&[
            "v=0",
            "o=- 1 1 IN IP4 192.0.2.1",
            "s=-",
            "t=0 0",
            "m=audio 49170/2 RTP/AVP 0",
            "m=video 0 RTP/AVP 31",
            "m=text 0 RTP/AVP 98",
            "a=rtpmap:98 t140/1000",
        ]);
        let sdp = round_trips_exactly(&text);
        assert_eq!(sdp.media[0].port_count, Some(2));
        assert_eq!(sdp.media[1].port, 0);
        assert!(sdp.media[1].lines.is_empty());
        assert_eq!(sdp.media[2].rtpmap("98").map(|r| r.clock), Some(1000));
    }

    #[test]
    fn hold() {
        let text = crlf(&[
            "v=0",
            "o=alice 2890844526 2890844527 IN IP4 host.example.com",
            "s=-",
            "c=IN IP4 0.0.0.0",
            "t=0 0",
            "m=audio 49170 RTP/AVP 0",
            "c=IN IP4 0.0.0.0",
            "a=sendonly",
        ]);
        let sdp = round_trips_exactly(&text);
        let hold = Connection {
            family: Family::Ip4,
            address: "0.0.0.0".into(),
        };
        assert_eq!(sdp.session_connection().as_ref(), Some(&hold));
        assert_eq!(sdp.media[0].connection().as_ref(), Some(&hold));
        assert!(sdp.media[0].has_attr("sendonly"));
        assert_eq!(sdp.media[0].attr("sendonly"), Some(""));
        assert!(!sdp.media[0].has_attr("sendrecv"));
        let origin = parse_origin(&sdp.session[1].value).expect("origin");
        assert_eq!(origin.address, "host.example.com");
        assert_eq!(origin.sess_version, "2890844527");

        // Resuming: swap the direction attribute.
        let mut sdp = sdp;
        sdp.media[0].remove_attrs(|name, _| name == "sendonly");
        sdp.media[0].lines.push(Line {
            kind: b'a',
            value: "sendrecv".into(),
        });
        assert!(sdp.media[0].has_attr("sendrecv"));
        assert!(!sdp.media[0].has_attr("sendonly"));
    }

    #[test]
    fn ipv6() {
        let text = crlf(&[
            "v=0",
            "o=- 20518 0 IN IP6 2001:db8::1",
            "s=-",
            "c=IN IP6 2001:db8::1",
            "t=0 0",
            "m=audio 6000 RTP/AVP 8",
            "c=IN IP6 FF1E:03AD::7F2E:172A:1E24/3",
            "a=rtcp:6001 IN IP6 2001:db8::2",
        ]);
        let sdp = round_trips_exactly(&text);
        let origin = parse_origin(&sdp.session[1].value).expect("origin");
        assert_eq!(origin.family, Family::Ip6);
        assert_eq!(origin.address, "2001:db8::1");
        assert_eq!(origin.format(), "- 20518 0 IN IP6 2001:db8::1");
        assert_eq!(
            sdp.session_connection(),
            Some(Connection {
                family: Family::Ip6,
                address: "2001:db8::1".into()
            })
        );
        assert_eq!(
            sdp.media[0].connection(),
            Some(Connection {
                family: Family::Ip6,
                address: "FF1E:03AD::7F2E:172A:1E24/3".into()
            })
        );
        let rtcp = sdp.media[0]
            .attr("rtcp")
            .and_then(parse_rtcp_attr)
            .expect("rtcp");
        assert_eq!(rtcp.port, 6001);
        assert_eq!(
            rtcp.connection.map(|c| (c.family, c.address)),
            Some((Family::Ip6, "2001:db8::2".into()))
        );
        assert_eq!(format_connection(Family::Ip6, "::1"), "IN IP6 ::1");
    }

    #[test]
    fn field_helpers() {
        assert_eq!(
            parse_connection("IN IP4 224.2.36.42/127"),
            Some(Connection {
                family: Family::Ip4,
                address: "224.2.36.42/127".into()
            })
        );
        assert_eq!(
            parse_connection("in ip4 1.2.3.4").map(|c| c.family),
            Some(Family::Ip4)
        );
        assert_eq!(parse_connection("IN IP4"), None);
        assert_eq!(parse_connection("IN IP5 1.2.3.4"), None);
        assert_eq!(parse_connection("TN RFC2543 +1"), None);
        assert_eq!(parse_connection("IN IP4 1.2.3.4 extra"), None);
        assert_eq!(parse_connection(""), None);
        assert_eq!(format_connection(Family::Ip4, "1.2.3.4"), "IN IP4 1.2.3.4");

        assert_eq!(parse_origin("- 1 2 IN IP4"), None);
        assert_eq!(parse_origin("- 1 2 XX IP4 a"), None);
        assert_eq!(parse_origin("- 1 2 IN IP4 a b"), None);

        assert_eq!(
            parse_rtpmap("96 opus/48000/2"),
            Some(Rtpmap {
                pt: 96,
                encoding: "opus".into(),
                clock: 48000,
                channels: Some(2)
            })
        );
        assert_eq!(parse_rtpmap(" 0  PCMU/8000 ").map(|r| r.pt), Some(0));
        for bad in [
            "",
            "0",
            "0 ",
            "128 x/8000",
            "-1 x/8000",
            "0 PCMU",
            "0 /8000",
            "0 PCMU/",
            "0 PCMU/x",
            "0 PCMU/8000/",
            "0 PCMU/8000/256",
            "0 PCMU/8000/1/1",
            "0 PCMU/4294967296",
            "0 PCMU /8000",
            "x PCMU/8000",
        ] {
            assert_eq!(parse_rtpmap(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_rtpmap("0 PCMU/4294967295").map(|r| r.clock),
            Some(u32::MAX)
        );

        assert_eq!(
            parse_rtcp_attr("53020"),
            Some(RtcpAttr {
                port: 53020,
                connection: None
            })
        );
        assert_eq!(
            parse_rtcp_attr("53020 IN IP4 126.16.64.4").and_then(|r| r.connection),
            Some(Connection {
                family: Family::Ip4,
                address: "126.16.64.4".into()
            })
        );
        for bad in ["", "x", "65536", "1 IN", "1 IN IP4", "1 IN IP4 a b", "+1"] {
            assert_eq!(parse_rtcp_attr(bad), None, "{bad:?}");
        }

        let line = Line {
            kind: b'a',
            value: "fmtp:96 a=b:c".into(),
        };
        assert_eq!(line.attr(), Some(("fmtp", "96 a=b:c")));
        assert_eq!(
            Line {
                kind: b'a',
                value: "recvonly".into()
            }
            .attr(),
            Some(("recvonly", ""))
        );
        assert_eq!(
            Line {
                kind: b'a',
                value: String::new()
            }
            .attr(),
            Some(("", ""))
        );
        assert_eq!(
            Line {
                kind: b'b',
                value: "AS:64".into()
            }
            .attr(),
            None
        );
    }

    #[test]
    fn remove_attrs_keeps_other_lines() {
        let mut sdp = parse(&chrome_offer()).expect("parses");
        let audio = &mut sdp.media[0];
        let before = audio.lines.len();
        audio.remove_attrs(|name, value| {
            name == "rtpmap" && !(value.starts_with("0 ") || value.starts_with("8 "))
                || name == "fmtp"
                || name.starts_with("ice-")
        });
        assert_eq!(
            audio.attrs("rtpmap").collect::<Vec<_>>(),
            ["0 PCMU/8000", "8 PCMA/8000"]
        );
        assert!(!audio.has_attr("fmtp") && !audio.has_attr("ice-ufrag"));
        assert_eq!(audio.lines.len(), before - 6 - 2 - 3);
        assert_eq!(audio.lines.iter().filter(|l| l.kind == b'c').count(), 1);
        let out = sdp.to_string_crlf();
        assert_eq!(parse(&out), Ok(sdp));
    }

    /// Small in-crate robustness check (the fuzz target and a heavier test do more).
    #[test]
    fn mutated_inputs_never_panic_and_round_trip() {
        let seeds = [
            chrome_offer(),
            ims_offer(),
            "v=0\nm=audio 0 RTP/AVP 0\n".to_string(),
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"v=0m \r\n\t/:aoscbt1234567890IPN\x00";
        for i in 0..20_000usize {
            let mut bytes = seeds[i % seeds.len()].clone().into_bytes();
            for _ in 0..(1 + next() % 8) {
                if bytes.is_empty() {
                    break;
                }
                let pos = (next() % bytes.len() as u64) as usize;
                match next() % 4 {
                    0 => bytes[pos] = alphabet[(next() % alphabet.len() as u64) as usize],
                    1 => {
                        bytes.remove(pos);
                    }
                    2 => bytes.insert(pos, alphabet[(next() % alphabet.len() as u64) as usize]),
                    _ => bytes.truncate(pos),
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(sdp) = parse(&text) {
                let out = sdp.to_string_crlf();
                assert_eq!(out.len(), sdp.encoded_len());
                assert_eq!(parse(&out).as_ref(), Ok(&sdp), "input {text:?}");
            }
        }
    }
}
