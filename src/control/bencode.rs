//! Bencode codec for the rtpengine "ng" control protocol, plus conversion to and
//! from JSON and the TCP-ng stream framing.
//!
//! Everything here parses untrusted network input and is written so that it never
//! panics: no allocation is sized by an unchecked length prefix, recursion is
//! bounded by [`MAX_DEPTH`], and integers are range-checked.
//!
//! Deviations from strict bencode, matching what rtpengine accepts on the wire:
//! * dictionary keys need not be sorted, and their wire order is kept
//!   ([`Value::Dict`] is a vector of pairs). Duplicate keys are kept as well;
//!   [`Value::get`] returns the first one.
//!
//! Strictness kept: integers have no leading zeros, no `-0`, and must fit an
//! `i64`; byte-string lengths have no leading zeros; dictionary keys must be
//! byte strings.

use std::fmt;

/// Maximum nesting of lists/dictionaries. The outermost container counts as
/// level 1, so 32 nested lists decode and 33 do not.
pub const MAX_DEPTH: usize = 32;

/// Maximum length of a TCP-ng cookie, in bytes.
pub const MAX_COOKIE_LEN: usize = 256;

/// A decoded bencode value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    /// Keeps wire order; keys need not be sorted and may repeat.
    Dict(Vec<(Vec<u8>, Value)>),
}

/// Why and where decoding failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset into the input at which the problem was found.
    pub offset: usize,
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bencode error at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

const R_EOF: &str = "unexpected end of input";

/// Internal error: `eof` marks errors that more input could cure (used by
/// [`frame`] to tell "incomplete" from "invalid").
struct PErr {
    offset: usize,
    reason: &'static str,
    eof: bool,
}

impl From<PErr> for DecodeError {
    fn from(e: PErr) -> Self {
        DecodeError {
            offset: e.offset,
            reason: e.reason,
        }
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eof(&self) -> PErr {
        PErr {
            offset: self.pos,
            reason: R_EOF,
            eof: true,
        }
    }

    fn bad(&self, reason: &'static str) -> PErr {
        PErr {
            offset: self.pos,
            reason,
            eof: false,
        }
    }

    /// Parses `i<digits>e`; `self.pos` is at the `i`.
    fn int(&mut self) -> Result<i64, PErr> {
        let start = self.pos;
        self.pos += 1;
        let neg = if self.peek() == Some(b'-') {
            self.pos += 1;
            true
        } else {
            false
        };
        match self.peek() {
            None => return Err(self.eof()),
            Some(b'0') => {
                if neg {
                    return Err(self.bad("negative zero"));
                }
                self.pos += 1;
                return match self.peek() {
                    None => Err(self.eof()),
                    Some(b'e') => {
                        self.pos += 1;
                        Ok(0)
                    }
                    Some(b) if b.is_ascii_digit() => Err(self.bad("leading zero in integer")),
                    Some(_) => Err(self.bad("expected 'e' after integer")),
                };
            }
            Some(b) if b.is_ascii_digit() => {}
            Some(_) => return Err(self.bad("expected digit in integer")),
        }
        // Accumulate negatively so that i64::MIN is representable.
        let mut v: i64 = 0;
        while let Some(b) = self.peek() {
            if !b.is_ascii_digit() {
                break;
            }
            v = match v
                .checked_mul(10)
                .and_then(|v| v.checked_sub(i64::from(b - b'0')))
            {
                Some(v) => v,
                None => {
                    return Err(PErr {
                        offset: start,
                        reason: "integer out of range",
                        eof: false,
                    })
                }
            };
            self.pos += 1;
        }
        match self.peek() {
            None => return Err(self.eof()),
            Some(b'e') => self.pos += 1,
            Some(_) => return Err(self.bad("expected 'e' after integer")),
        }
        if neg {
            Ok(v)
        } else {
            v.checked_neg().ok_or(PErr {
                offset: start,
                reason: "integer out of range",
                eof: false,
            })
        }
    }

    /// Parses `<len>:<bytes>`; `self.pos` is at the first digit.
    fn string(&mut self) -> Result<&'a [u8], PErr> {
        let start = self.pos;
        let mut len: usize = 0;
        match self.peek() {
            None => return Err(self.eof()),
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b) if b.is_ascii_digit()) {
                    return Err(self.bad("leading zero in string length"));
                }
            }
            Some(b) if b.is_ascii_digit() => {
                while let Some(b) = self.peek() {
                    if !b.is_ascii_digit() {
                        break;
                    }
                    len = match len
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(b - b'0')))
                    {
                        Some(l) => l,
                        None => {
                            return Err(PErr {
                                offset: start,
                                reason: "string length out of range",
                                eof: false,
                            })
                        }
                    };
                    self.pos += 1;
                }
            }
            Some(_) => return Err(self.bad("expected string length")),
        }
        match self.peek() {
            None => return Err(self.eof()),
            Some(b':') => self.pos += 1,
            Some(_) => return Err(self.bad("expected ':' after string length")),
        }
        let remaining = self.input.len().saturating_sub(self.pos);
        if len > remaining {
            return Err(PErr {
                offset: start,
                reason: "string length exceeds remaining input",
                eof: true,
            });
        }
        let end = self.pos + len; // cannot overflow: len <= remaining
        match self.input.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(PErr {
                offset: start,
                reason: "string length exceeds remaining input",
                eof: true,
            }),
        }
    }

    /// Parses one value. With `build == false` nothing is allocated and `None`
    /// is returned on success (used for framing); otherwise `Some(value)`.
    /// `depth` is the number of containers already open around this value.
    fn walk(&mut self, depth: usize, build: bool) -> Result<Option<Value>, PErr> {
        match self.peek() {
            None => Err(self.eof()),
            Some(b'i') => {
                let i = self.int()?;
                Ok(build.then_some(Value::Int(i)))
            }
            Some(b) if b.is_ascii_digit() => {
                let s = self.string()?;
                Ok(build.then(|| Value::Bytes(s.to_vec())))
            }
            Some(b'l') => {
                if depth >= MAX_DEPTH {
                    return Err(self.bad("nesting too deep"));
                }
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err(self.eof()),
                        Some(b'e') => {
                            self.pos += 1;
                            break;
                        }
                        Some(_) => {
                            if let Some(v) = self.walk(depth + 1, build)? {
                                items.push(v);
                            }
                        }
                    }
                }
                Ok(build.then_some(Value::List(items)))
            }
            Some(b'd') => {
                if depth >= MAX_DEPTH {
                    return Err(self.bad("nesting too deep"));
                }
                self.pos += 1;
                let mut entries = Vec::new();
                loop {
                    match self.peek() {
                        None => return Err(self.eof()),
                        Some(b'e') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b) if b.is_ascii_digit() => {
                            let key = self.string()?;
                            if let Some(v) = self.walk(depth + 1, build)? {
                                entries.push((key.to_vec(), v));
                            }
                        }
                        Some(_) => return Err(self.bad("dictionary key must be a byte string")),
                    }
                }
                Ok(build.then_some(Value::Dict(entries)))
            }
            Some(_) => Err(self.bad("expected bencode value")),
        }
    }
}

/// Decodes one value from the start of `input` and returns it together with the
/// number of bytes it occupied. Bytes after the value are not examined.
pub fn decode(input: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut p = Parser { input, pos: 0 };
    match p.walk(0, true)? {
        Some(v) => Ok((v, p.pos)),
        // walk(build = true) always yields a value on success.
        None => Err(DecodeError {
            offset: 0,
            reason: "internal decoder error",
        }),
    }
}

/// Decodes a value that must span all of `input`, apart from trailing
/// whitespace (space, tab, CR, LF).
pub fn decode_all(input: &[u8]) -> Result<Value, DecodeError> {
    let (v, used) = decode(input)?;
    let rest = input.get(used..).unwrap_or(&[]);
    match rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        None => Ok(v),
        Some(i) => Err(DecodeError {
            offset: used + i,
            reason: "trailing data after value",
        }),
    }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20]; // u64::MAX has 20 digits
    let mut p = buf.len();
    loop {
        p -= 1;
        buf[p] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[p..]);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_u64(out, b.len() as u64);
    out.push(b':');
    out.extend_from_slice(b);
}

/// Appends the bencoding of `v` to `out`. Dictionaries are written in their
/// stored order.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Int(i) => {
            out.push(b'i');
            if *i < 0 {
                out.push(b'-');
            }
            write_u64(out, i.unsigned_abs());
            out.push(b'e');
        }
        Value::Bytes(b) => write_bytes(out, b),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode(item, out);
            }
            out.push(b'e');
        }
        Value::Dict(entries) => {
            out.push(b'd');
            for (k, val) in entries {
                write_bytes(out, k);
                encode(val, out);
            }
            out.push(b'e');
        }
    }
}

/// Convenience: the bencoding of `v` as a new vector.
pub fn encode_to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out);
    out
}

// ---------------------------------------------------------------------------
// Accessors and constructors
// ---------------------------------------------------------------------------

impl Value {
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A byte string that is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// An `Int`, or a byte string holding a decimal integer (optional sign,
    /// ASCII digits, no surrounding whitespace), e.g. `"30"` or `"-5"`.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bytes(_) => self.as_str().and_then(|s| s.parse::<i64>().ok()),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_dict(&self) -> Option<&[(Vec<u8>, Value)]> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Exact (case- and spelling-sensitive) key lookup in a `Dict`; the first
    /// matching entry wins. `None` for non-dictionaries.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k.as_slice() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// A byte string holding `s`.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Bytes(s.into().into_bytes())
    }

    pub fn int(i: i64) -> Value {
        Value::Int(i)
    }

    /// A byte string holding arbitrary bytes.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(b.into())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<Vec<Value>> for Value {
    fn from(l: Vec<Value>) -> Self {
        Value::List(l)
    }
}

/// Builds a `Dict` in insertion order:
/// `DictBuilder::new().str("result", "ok").int("x", 1).val("k", v).build()`.
#[derive(Clone, Debug, Default)]
pub struct DictBuilder(Vec<(Vec<u8>, Value)>);

impl DictBuilder {
    pub fn new() -> Self {
        DictBuilder(Vec::new())
    }

    pub fn str(self, key: impl AsRef<[u8]>, value: impl Into<String>) -> Self {
        self.val(key, Value::str(value))
    }

    pub fn int(self, key: impl AsRef<[u8]>, value: i64) -> Self {
        self.val(key, Value::Int(value))
    }

    pub fn val(mut self, key: impl AsRef<[u8]>, value: Value) -> Self {
        self.0.push((key.as_ref().to_vec(), value));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn build(self) -> Value {
        Value::Dict(self.0)
    }
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------

/// Converts a JSON document (the ng protocol's alternative encoding) to a
/// bencode value:
/// * object → `Dict` (in the order `serde_json` iterates it), array → `List`,
///   string → `Bytes`, integer fitting `i64` → `Int`, `true`/`false` → `Int(1)`/`Int(0)`,
///   floats and integers beyond `i64` → `Bytes` holding their JSON text;
/// * `null` as an object member is **skipped** (treated as an absent key);
///   `null` anywhere else (top level, array element) is an error;
/// * nesting deeper than [`MAX_DEPTH`] containers is an error (same limit as
///   the bencode decoder, so the result always re-decodes).
pub fn from_json(j: &serde_json::Value) -> Result<Value, String> {
    json_in(j, 0)
}

fn json_in(j: &serde_json::Value, depth: usize) -> Result<Value, String> {
    use serde_json::Value as J;
    match j {
        J::Null => Err("JSON null is only allowed as an object member value".to_string()),
        J::Bool(b) => Ok(Value::Int(i64::from(*b))),
        J::Number(n) => Ok(match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Bytes(n.to_string().into_bytes()),
        }),
        J::String(s) => Ok(Value::Bytes(s.as_bytes().to_vec())),
        J::Array(a) => {
            if depth >= MAX_DEPTH {
                return Err(format!("JSON nested deeper than {MAX_DEPTH} levels"));
            }
            let mut items = Vec::with_capacity(a.len());
            for e in a {
                items.push(json_in(e, depth + 1)?);
            }
            Ok(Value::List(items))
        }
        J::Object(m) => {
            if depth >= MAX_DEPTH {
                return Err(format!("JSON nested deeper than {MAX_DEPTH} levels"));
            }
            let mut entries = Vec::with_capacity(m.len());
            for (k, v) in m {
                if v.is_null() {
                    continue;
                }
                entries.push((k.as_bytes().to_vec(), json_in(v, depth + 1)?));
            }
            Ok(Value::Dict(entries))
        }
    }
}

/// Converts a bencode value to JSON: `Bytes` → string (invalid UTF-8 replaced
/// lossily), `Int` → number, `List` → array, `Dict` → object (keys converted
/// lossily; for duplicate keys the first entry wins, as with [`Value::get`]).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Int(i) => J::from(*i),
        Value::Bytes(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Dict(entries) => {
            let mut m = serde_json::Map::new();
            for (k, val) in entries {
                let k = String::from_utf8_lossy(k).into_owned();
                if !m.contains_key(&k) {
                    m.insert(k, to_json(val));
                }
            }
            J::Object(m)
        }
    }
}

// ---------------------------------------------------------------------------
// TCP-ng framing
// ---------------------------------------------------------------------------

/// Result of looking for one complete TCP-ng message at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `buf[..cookie_len]` is the cookie, `buf[cookie_len]` the space,
    /// `buf[cookie_len + 1..total_len]` one complete bencode dictionary.
    /// Anything from `total_len` on belongs to the next message.
    Complete { cookie_len: usize, total_len: usize },
    /// More bytes are needed. The caller must bound how much it buffers
    /// (rtpengine drops a connection with >1024 bytes and no full message); a
    /// huge string-length prefix stays `Incomplete` until that limit hits.
    Incomplete,
    /// The stream cannot be a valid message; the connection should be closed.
    Invalid(&'static str),
}

/// Splits a TCP-ng stream: `buf` = `<cookie> d...e<next message...>`.
///
/// The cookie is 1..=256 bytes, each `> 0x20`, ended by one space; the
/// bencode dictionary must follow immediately. Nothing is skipped (no leading
/// whitespace or newlines between messages). The dictionary is fully
/// validated with the same rules as [`decode`], so for a `Complete` frame
/// `decode_all(&buf[cookie_len + 1..total_len])` succeeds. No allocation.
pub fn frame(buf: &[u8]) -> Frame {
    let mut cookie_len = None;
    for (i, &b) in buf.iter().enumerate().take(MAX_COOKIE_LEN + 1) {
        if b == b' ' {
            cookie_len = Some(i);
            break;
        }
        if b < 0x21 {
            return Frame::Invalid("control character in cookie");
        }
    }
    let cookie_len = match cookie_len {
        Some(0) => return Frame::Invalid("empty cookie"),
        Some(n) => n,
        None if buf.len() > MAX_COOKIE_LEN => return Frame::Invalid("cookie too long"),
        None => return Frame::Incomplete,
    };
    let start = cookie_len + 1;
    match buf.get(start) {
        None => return Frame::Incomplete,
        Some(b'd') => {}
        Some(_) => return Frame::Invalid("expected bencode dictionary after cookie"),
    }
    let mut p = Parser {
        input: buf,
        pos: start,
    };
    match p.walk(0, false) {
        Ok(_) => Frame::Complete {
            cookie_len,
            total_len: p.pos,
        },
        Err(e) if e.eof => Frame::Incomplete,
        Err(e) => Frame::Invalid(e.reason),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn bs(s: &str) -> String {
        format!("{}:{}", s.len(), s)
    }

    fn err(input: &[u8]) -> DecodeError {
        match decode_all(input) {
            Ok(v) => panic!(
                "expected error for {:?}, got {:?}",
                String::from_utf8_lossy(input),
                v
            ),
            Err(e) => e,
        }
    }

    const SDP: &str = "v=0\r\no=- 1545997027 1 IN IP4 198.51.100.1\r\ns=tester\r\nt=0 0\r\n\
m=audio 2000 RTP/AVP 0\r\nc=IN IP4 198.51.100.1\r\na=sendrecv\r\n";

    /// A Kamailio-style offer, keys in Kamailio's (unsorted) order.
    fn kamailio_offer() -> Vec<u8> {
        let mut m = String::from("d");
        m += &format!("{}l{}e", bs("supports"), bs("load limit"));
        m += &format!("{}{}", bs("sdp"), bs(SDP));
        m += &format!(
            "{}l{}{}{}e",
            bs("flags"),
            bs("trust-address"),
            bs("strict-source"),
            bs("no-rtcp-attribute")
        );
        m += &format!("{}l{}e", bs("replace"), bs("origin"));
        m += &format!(
            "{}l{}{}e",
            bs("received-from"),
            bs("IP4"),
            bs("198.51.100.7")
        );
        m += &format!("{}{}", bs("ICE"), bs("force"));
        m += &format!("{}{}", bs("transport-protocol"), bs("UDP/TLS/RTP/SAVPF"));
        m += &format!("{}l{}{}e", bs("rtcp-mux"), bs("offer"), bs("require"));
        m += &format!("{}{}", bs("call-id"), bs("a84b4c76e66710@pc33.example.com"));
        m += &format!("{}{}", bs("via-branch"), bs("z9hG4bK776asdhds.0"));
        m += &format!("{}{}", bs("from-tag"), bs("1928301774"));
        m += &format!("{}i30e", bs("delete delay"));
        m += &format!("{}{}", bs("sip-message-type"), bs("sip-request"));
        m += &format!("{}{}", bs("command"), bs("offer"));
        m += "e";
        m.into_bytes()
    }

    #[test]
    fn literal_ping_and_pong() {
        let v = decode_all(b"d7:command4:pinge").unwrap();
        assert_eq!(v.get("command").and_then(Value::as_str), Some("ping"));
        let reply = DictBuilder::new().str("result", "pong").build();
        assert_eq!(encode_to_vec(&reply), b"d6:result4:ponge");
    }

    #[test]
    fn literal_small_offer() {
        // Hand-counted wire bytes, independent of the encoder.
        let wire = b"d7:command5:offer7:call-id5:abc@x8:from-tag3:ft15:flagsl13:trust-addresse\
8:supportsl10:load limite13:received-froml3:IP48:10.0.0.1ee";
        let v = decode_all(wire).unwrap();
        assert_eq!(v.get("command").unwrap().as_str(), Some("offer"));
        assert_eq!(v.get("call-id").unwrap().as_str(), Some("abc@x"));
        assert_eq!(v.get("from-tag").unwrap().as_str(), Some("ft1"));
        let flags = v.get("flags").unwrap().as_list().unwrap();
        assert_eq!(flags, &[Value::str("trust-address")]);
        assert_eq!(
            v.get("supports").unwrap().as_list().unwrap()[0].as_str(),
            Some("load limit")
        );
        let rf = v.get("received-from").unwrap().as_list().unwrap();
        assert_eq!(rf[1].as_str(), Some("10.0.0.1"));
        assert_eq!(encode_to_vec(&v), wire.to_vec());
    }

    #[test]
    fn kamailio_offer_decodes_and_roundtrips() {
        let wire = kamailio_offer();
        let (v, used) = decode(&wire).unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(v.get("command").unwrap().as_str(), Some("offer"));
        assert_eq!(v.get("sdp").unwrap().as_str(), Some(SDP));
        assert_eq!(
            v.get("call-id").unwrap().as_str(),
            Some("a84b4c76e66710@pc33.example.com")
        );
        assert_eq!(v.get("ICE").unwrap().as_str(), Some("force"));
        assert!(v.get("ice").is_none(), "lookup is exact");
        assert_eq!(v.get("delete delay").unwrap().as_int(), Some(30));
        let flags: Vec<&str> = v
            .get("flags")
            .unwrap()
            .as_list()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            flags,
            ["trust-address", "strict-source", "no-rtcp-attribute"]
        );
        assert_eq!(
            v.get("replace").unwrap().as_list().unwrap(),
            &[Value::str("origin")]
        );
        // Wire order preserved: first key is "supports", last is "command".
        let d = v.as_dict().unwrap();
        assert_eq!(d.first().unwrap().0, b"supports");
        assert_eq!(d.last().unwrap().0, b"command");
        // Re-encoding reproduces the exact bytes (order kept).
        assert_eq!(encode_to_vec(&v), wire);
        // Trailing CRLF is fine for decode_all.
        let mut w2 = wire.clone();
        w2.extend_from_slice(b"\r\n");
        assert_eq!(decode_all(&w2).unwrap(), v);
    }

    #[test]
    fn integers() {
        assert_eq!(decode_all(b"i0e").unwrap(), Value::Int(0));
        assert_eq!(decode_all(b"i-12e").unwrap(), Value::Int(-12));
        assert_eq!(
            decode_all(b"i9223372036854775807e").unwrap(),
            Value::Int(i64::MAX)
        );
        assert_eq!(
            decode_all(b"i-9223372036854775808e").unwrap(),
            Value::Int(i64::MIN)
        );
        assert_eq!(err(b"i9223372036854775808e").reason, "integer out of range");
        assert_eq!(
            err(b"i-9223372036854775809e").reason,
            "integer out of range"
        );
        assert_eq!(
            err(b"i99999999999999999999999999999e").reason,
            "integer out of range"
        );
        assert_eq!(err(b"i-0e").reason, "negative zero");
        assert_eq!(err(b"i03e").reason, "leading zero in integer");
        assert_eq!(err(b"i00e").reason, "leading zero in integer");
        assert_eq!(err(b"ie").reason, "expected digit in integer");
        assert_eq!(err(b"i-e").reason, "expected digit in integer");
        assert_eq!(err(b"i+1e").reason, "expected digit in integer");
        assert_eq!(err(b"i1x").reason, "expected 'e' after integer");
        assert_eq!(err(b"i12").reason, R_EOF);
        for v in [0, 1, -1, 42, i64::MAX, i64::MIN, -1000] {
            assert_eq!(
                decode_all(&encode_to_vec(&Value::Int(v))).unwrap(),
                Value::Int(v)
            );
        }
    }

    #[test]
    fn strings_and_lengths() {
        assert_eq!(decode_all(b"0:").unwrap(), Value::Bytes(vec![]));
        assert_eq!(
            decode_all(b"3:a\0b").unwrap(),
            Value::Bytes(b"a\0b".to_vec())
        );
        assert_eq!(err(b"05:hello").reason, "leading zero in string length");
        assert_eq!(
            err(b"5:hell").reason,
            "string length exceeds remaining input"
        );
        assert_eq!(err(b"5hello").reason, "expected ':' after string length");
        assert_eq!(err(b"5").reason, R_EOF);
        // Huge prefixes never allocate and are rejected.
        assert_eq!(
            err(b"18446744073709551615:x").reason,
            "string length exceeds remaining input"
        );
        assert_eq!(
            err(b"18446744073709551616:x").reason,
            "string length out of range"
        );
        assert_eq!(
            err(b"99999999999999999999999999999999:x").reason,
            "string length out of range"
        );
        let e = err(b"d3:key4000000000:abce");
        assert_eq!(e.offset, 6);
        assert_eq!(
            e.to_string(),
            "bencode error at byte 6: string length exceeds remaining input"
        );
        // Non-UTF-8 bytes decode fine; as_str refuses them.
        let v = decode_all(b"2:\xff\xfe").unwrap();
        assert!(v.as_bytes().is_some() && v.as_str().is_none());
    }

    #[test]
    fn structural_errors() {
        assert_eq!(err(b"").reason, R_EOF);
        assert_eq!(err(b"d").reason, R_EOF);
        assert_eq!(err(b"l").reason, R_EOF);
        assert_eq!(err(b"d3:key").reason, R_EOF);
        assert_eq!(
            err(b"di1ei2ee").reason,
            "dictionary key must be a byte string"
        );
        assert_eq!(
            err(b"dl1:ae1:be").reason,
            "dictionary key must be a byte string"
        );
        assert_eq!(err(b"x").reason, "expected bencode value");
        assert_eq!(
            err(b"{\"command\":\"ping\"}").reason,
            "expected bencode value"
        );
        let e = err(b"d1:a1:bejunk");
        assert_eq!((e.offset, e.reason), (8, "trailing data after value"));
        // decode() itself stops after one value.
        assert_eq!(decode(b"i1ei2e").unwrap(), (Value::Int(1), 3));
        // Truncation at every position of a real message is an error, never a panic.
        let wire = kamailio_offer();
        for n in 0..wire.len() {
            assert!(decode_all(&wire[..n]).is_err(), "prefix {n} accepted");
        }
    }

    #[test]
    fn unsorted_and_duplicate_keys() {
        let v = decode_all(b"d1:bi1e1:ai2e1:bi3ee").unwrap();
        assert_eq!(v.get("b"), Some(&Value::Int(1)));
        assert_eq!(v.get("a"), Some(&Value::Int(2)));
        assert_eq!(v.as_dict().unwrap().len(), 3);
        assert_eq!(encode_to_vec(&v), b"d1:bi1e1:ai2e1:bi3ee");
        assert_eq!(to_json(&v), serde_json::json!({"a": 2, "b": 1}));
    }

    #[test]
    fn depth_limits() {
        let ok = format!("{}{}", "l".repeat(MAX_DEPTH), "e".repeat(MAX_DEPTH));
        assert!(decode_all(ok.as_bytes()).is_ok());
        let bad = format!("{}{}", "l".repeat(MAX_DEPTH + 1), "e".repeat(MAX_DEPTH + 1));
        let e = err(bad.as_bytes());
        assert_eq!((e.offset, e.reason), (MAX_DEPTH, "nesting too deep"));
        // A depth bomb: a megabyte of openers fails fast without recursion blow-up.
        let bomb = vec![b'l'; 1 << 20];
        assert_eq!(err(&bomb).reason, "nesting too deep");
        let dbomb = "d1:a".repeat(100_000);
        assert_eq!(err(dbomb.as_bytes()).reason, "nesting too deep");
        assert!(matches!(
            frame(format!("c {dbomb}").as_bytes()),
            Frame::Invalid("nesting too deep")
        ));
    }

    #[test]
    fn non_dict_top_level_and_accessors() {
        let v = decode_all(b"l1:a1:be").unwrap();
        assert!(v.as_dict().is_none());
        assert!(v.get("a").is_none());
        assert_eq!(v.as_list().unwrap().len(), 2);
        assert_eq!(Value::str("30").as_int(), Some(30));
        assert_eq!(Value::str("-7").as_int(), Some(-7));
        assert_eq!(Value::str("3x").as_int(), None);
        assert_eq!(Value::str(" 3").as_int(), None);
        assert_eq!(Value::List(vec![]).as_int(), None);
        assert_eq!(Value::int(5).as_str(), None);
    }

    #[test]
    fn builder() {
        let v = DictBuilder::new()
            .str("result", "ok")
            .int("x", 1)
            .val("list", Value::List(vec![Value::str("a"), Value::int(-2)]))
            .val(String::from("tag"), DictBuilder::new().build())
            .build();
        assert_eq!(
            encode_to_vec(&v),
            b"d6:result2:ok1:xi1e4:listl1:ai-2ee3:tagdee"
        );
        assert_eq!(decode_all(&encode_to_vec(&v)).unwrap(), v);
    }

    #[test]
    fn json_roundtrip_offer() {
        let j = serde_json::json!({
            "command": "offer",
            "call-id": "a84b4c76e66710",
            "from-tag": "1928301774",
            "sdp": SDP,
            "flags": ["trust-address", "strict-source"],
            "replace": ["origin"],
            "received-from": ["IP4", "198.51.100.7"],
            "supports": ["load limit"],
            "codec": {"transcode": ["PCMA", "PCMU"], "strip": ["all"]},
            "delete delay": 30,
            "generate RTCP": true,
            "to-tag": null
        });
        let v = from_json(&j).unwrap();
        assert_eq!(v.get("delete delay"), Some(&Value::Int(30)));
        assert_eq!(v.get("generate RTCP"), Some(&Value::Int(1)));
        assert!(v.get("to-tag").is_none(), "null members are skipped");
        assert_eq!(
            v.get("codec")
                .unwrap()
                .get("transcode")
                .unwrap()
                .as_list()
                .unwrap()
                .len(),
            2
        );
        // JSON -> bencode -> wire -> bencode -> JSON.
        let back = to_json(&decode_all(&encode_to_vec(&v)).unwrap());
        let mut expected = j.clone();
        expected.as_object_mut().unwrap().remove("to-tag");
        expected["generate RTCP"] = serde_json::json!(1);
        assert_eq!(back, expected);
    }

    #[test]
    fn json_edge_cases() {
        assert!(from_json(&serde_json::Value::Null).is_err());
        assert!(from_json(&serde_json::json!([1, null])).is_err());
        assert_eq!(
            from_json(&serde_json::json!(1.5)).unwrap(),
            Value::str("1.5")
        );
        assert_eq!(
            from_json(&serde_json::json!(u64::MAX)).unwrap(),
            Value::str("18446744073709551615")
        );
        assert_eq!(from_json(&serde_json::json!(false)).unwrap(), Value::Int(0));
        assert_eq!(from_json(&serde_json::json!(-3)).unwrap(), Value::Int(-3));
        // Depth limit matches the decoder.
        let mut j = serde_json::json!("x");
        for _ in 0..MAX_DEPTH {
            j = serde_json::json!([j]);
        }
        let v = from_json(&j).unwrap();
        assert!(decode_all(&encode_to_vec(&v)).is_ok());
        let j = serde_json::json!({ "a": j });
        assert!(from_json(&j).is_err());
        // Lossy UTF-8 on the way out.
        assert_eq!(
            to_json(&Value::bytes(b"a\xffb".to_vec())),
            serde_json::json!("a\u{fffd}b")
        );
        assert_eq!(to_json(&Value::Int(i64::MIN)), serde_json::json!(i64::MIN));
    }

    #[test]
    fn frame_basic() {
        let buf = b"5323_1 d7:command4:pinge";
        assert_eq!(
            frame(buf),
            Frame::Complete {
                cookie_len: 6,
                total_len: buf.len()
            }
        );
        let Frame::Complete {
            cookie_len,
            total_len,
        } = frame(buf)
        else {
            unreachable!()
        };
        assert_eq!(&buf[..cookie_len], b"5323_1");
        let v = decode_all(&buf[cookie_len + 1..total_len]).unwrap();
        assert_eq!(v.get("command").unwrap().as_str(), Some("ping"));
    }

    #[test]
    fn frame_two_messages_in_one_buffer() {
        let mut buf = b"1_a d7:command4:pinge".to_vec();
        let second = {
            let mut s = b"2_b ".to_vec();
            s.extend_from_slice(&kamailio_offer());
            s
        };
        buf.extend_from_slice(&second);
        let Frame::Complete {
            cookie_len,
            total_len,
        } = frame(&buf)
        else {
            panic!()
        };
        assert_eq!((cookie_len, total_len), (3, 21));
        let rest = &buf[total_len..];
        let Frame::Complete {
            cookie_len,
            total_len,
        } = frame(rest)
        else {
            panic!()
        };
        assert_eq!(&rest[..cookie_len], b"2_b");
        assert_eq!(total_len, rest.len());
        let v = decode_all(&rest[cookie_len + 1..total_len]).unwrap();
        assert_eq!(v.get("command").unwrap().as_str(), Some("offer"));
    }

    #[test]
    fn frame_split_across_reads() {
        let mut msg = b"c00kie ".to_vec();
        msg.extend_from_slice(&kamailio_offer());
        // Every strict prefix is Incomplete; the whole thing is Complete.
        for n in 0..msg.len() {
            assert_eq!(frame(&msg[..n]), Frame::Incomplete, "prefix {n}");
        }
        assert_eq!(
            frame(&msg),
            Frame::Complete {
                cookie_len: 6,
                total_len: msg.len()
            }
        );
        // Simulate reads of 7 bytes into a stream buffer.
        let mut stream = Vec::new();
        let mut got = 0;
        for chunk in msg.chunks(7).chain(msg.chunks(7)) {
            stream.extend_from_slice(chunk);
            while let Frame::Complete { total_len, .. } = frame(&stream) {
                stream.drain(..total_len);
                got += 1;
            }
        }
        assert_eq!(got, 2);
        assert!(stream.is_empty());
    }

    #[test]
    fn frame_invalid() {
        assert_eq!(frame(b""), Frame::Incomplete);
        assert_eq!(frame(b"abc"), Frame::Incomplete);
        assert_eq!(frame(b" d7:command4:pinge"), Frame::Invalid("empty cookie"));
        assert_eq!(
            frame(b"a\tb d7:command4:pinge"),
            Frame::Invalid("control character in cookie")
        );
        assert_eq!(
            frame(b"\r\n1 de"),
            Frame::Invalid("control character in cookie")
        );
        assert_eq!(
            frame(b"c l1:ae"),
            Frame::Invalid("expected bencode dictionary after cookie")
        );
        assert_eq!(
            frame(b"c {\"command\":\"ping\"}"),
            Frame::Invalid("expected bencode dictionary after cookie")
        );
        assert_eq!(
            frame(b"c  de"),
            Frame::Invalid("expected bencode dictionary after cookie")
        );
        assert_eq!(frame(b"c d3:keyi-0ee"), Frame::Invalid("negative zero"));
        assert_eq!(
            frame(b"c di1ei1ee"),
            Frame::Invalid("dictionary key must be a byte string")
        );
        assert_eq!(
            frame(b"c d3:key99999999999999999999999:"),
            Frame::Invalid("string length out of range")
        );
        // A large but representable length is just incomplete (caller caps buffering).
        assert_eq!(frame(b"c d3:key4000000000:abc"), Frame::Incomplete);
        // Cookie length limits.
        let mut ok = vec![b'x'; MAX_COOKIE_LEN];
        ok.extend_from_slice(b" de");
        assert_eq!(
            frame(&ok),
            Frame::Complete {
                cookie_len: MAX_COOKIE_LEN,
                total_len: ok.len()
            }
        );
        assert_eq!(frame(&vec![b'x'; MAX_COOKIE_LEN]), Frame::Incomplete);
        assert_eq!(
            frame(&vec![b'x'; MAX_COOKIE_LEN + 1]),
            Frame::Invalid("cookie too long")
        );
        let mut long = vec![b'x'; MAX_COOKIE_LEN + 1];
        long.extend_from_slice(b" de");
        assert_eq!(frame(&long), Frame::Invalid("cookie too long"));
        // Non-ASCII cookie bytes are accepted (only < 0x21 is refused).
        assert!(matches!(
            frame(b"\xc3\xa9 de"),
            Frame::Complete {
                cookie_len: 2,
                total_len: 5
            }
        ));
    }
}
