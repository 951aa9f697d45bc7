//! Parser for rtpengine's "rtpp-flags" string form, e.g.
//! `replace-origin via-branch=auto-next ICE=force rtcp-mux=[offer require]
//! codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR]] label=caller`.
//!
//! Grammar (positions in error messages are byte offsets into the input):
//! * items are separated by ASCII whitespace;
//! * an item is a bare token (`Item::Flag`) or `key=value` (`Item::Pair`);
//!   the key ends at the first `=`;
//! * a value is `[ items... ]` (a list, nested at most [`MAX_DEPTH`] deep),
//!   `"quoted text"` (may contain whitespace and brackets; `\"` and `\\` are
//!   escapes), or bare text up to the next whitespace (or `]` inside a list).
//!   Bare values may contain `=` (e.g. base64 padding); an empty value
//!   (`label=`) is `Str("")`;
//! * a quoted bare token (`"a b"`) is a `Flag`;
//! * errors: unbalanced brackets, `[` not directly after `=`, a key-less
//!   list or `=`, an unterminated quote, or junk glued to a closing `]` or `"`.
//!
//! A list of lists (`[[a b] [c d]]`) cannot be expressed by [`Item`] and is
//! rejected.

/// Maximum bracket nesting.
pub const MAX_DEPTH: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Flag(String),
    Pair(String, Val),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Str(String),
    List(Vec<Item>),
}

/// Parses an rtpp-flags string. Never panics; linear in the input length.
pub fn parse(s: &str) -> Result<Vec<Item>, String> {
    let mut p = P {
        s,
        b: s.as_bytes(),
        pos: 0,
    };
    p.items(0, None)
}

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
}

impl<'a> P<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b) if b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// `s[a..b]`; `a` and `b` are always at ASCII bytes or the ends, so they
    /// are char boundaries, but use `get` so that a mistake is an error.
    fn slice(&self, a: usize, b: usize) -> Result<String, String> {
        self.s
            .get(a..b)
            .map(str::to_owned)
            .ok_or_else(|| format!("internal error: bad slice at byte {a}"))
    }

    /// Reads a run of bytes until whitespace or one of `stops`.
    fn run(&mut self, stops: &[u8]) -> Result<String, String> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || stops.contains(&b) {
                break;
            }
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// Reads `"..."`; `self.pos` is at the opening quote.
    fn quoted(&mut self) -> Result<String, String> {
        let open = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(format!("unterminated quote starting at byte {open}")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') if matches!(self.b.get(self.pos + 1), Some(b'"' | b'\\')) => {
                    if let Some(&c) = self.b.get(self.pos + 1) {
                        out.push(c);
                    }
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out)
            .map_err(|_| format!("invalid UTF-8 in quote starting at byte {open}"))
    }

    /// After a closing `]` or `"`: only whitespace, `]` or the end may follow.
    fn expect_sep(&self, what: &str) -> Result<(), String> {
        match self.peek() {
            None | Some(b']') => Ok(()),
            Some(b) if b.is_ascii_whitespace() => Ok(()),
            Some(_) => Err(format!(
                "unexpected character after {what} at byte {}",
                self.pos
            )),
        }
    }

    /// Parses items until the end of input (top level, `open == None`) or the
    /// `]` matching the `[` at byte `open`. `depth` = brackets currently open.
    fn items(&mut self, depth: usize, open: Option<usize>) -> Result<Vec<Item>, String> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                None => {
                    return match open {
                        Some(o) => Err(format!("unbalanced '[' at byte {o}: missing ']'")),
                        None => Ok(out),
                    }
                }
                Some(b']') => {
                    return match open {
                        Some(_) => {
                            self.pos += 1;
                            Ok(out)
                        }
                        None => Err(format!("unbalanced ']' at byte {}", self.pos)),
                    }
                }
                Some(b'[') => return Err(format!("list without a key at byte {}", self.pos)),
                Some(b'=') => return Err(format!("missing key before '=' at byte {}", self.pos)),
                Some(b'"') => {
                    let q = self.quoted()?;
                    self.expect_sep("quoted string")?;
                    out.push(Item::Flag(q));
                }
                Some(_) => {
                    let key = self.run(b"=[]")?;
                    match self.peek() {
                        Some(b'=') => {
                            self.pos += 1;
                            let val = self.value(depth)?;
                            out.push(Item::Pair(key, val));
                        }
                        Some(b'[') => {
                            return Err(format!("'[' must follow '=' at byte {}", self.pos));
                        }
                        // whitespace, ']' (handled next iteration) or end
                        _ => out.push(Item::Flag(key)),
                    }
                }
            }
        }
    }

    /// Parses the value after `=`.
    fn value(&mut self, depth: usize) -> Result<Val, String> {
        match self.peek() {
            Some(b'[') => {
                let open = self.pos;
                if depth >= MAX_DEPTH {
                    return Err(format!(
                        "brackets nested deeper than {MAX_DEPTH} at byte {open}"
                    ));
                }
                self.pos += 1;
                let list = self.items(depth + 1, Some(open))?;
                self.expect_sep("']'")?;
                Ok(Val::List(list))
            }
            Some(b'"') => {
                let q = self.quoted()?;
                self.expect_sep("quoted string")?;
                Ok(Val::Str(q))
            }
            _ => {
                let start = self.pos;
                let v = self.run(b"[]")?;
                if self.peek() == Some(b'[') {
                    return Err(format!("unexpected '[' in value starting at byte {start}"));
                }
                Ok(Val::Str(v))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(s: &str) -> Item {
        Item::Flag(s.to_string())
    }
    fn pair(k: &str, v: &str) -> Item {
        Item::Pair(k.to_string(), Val::Str(v.to_string()))
    }
    fn list(k: &str, items: Vec<Item>) -> Item {
        Item::Pair(k.to_string(), Val::List(items))
    }

    #[test]
    fn kamailio_example() {
        let s = "replace-origin via-branch=auto-next strict-source ICE=force transport-protocol=RTP/AVP \
                 rtcp-mux=[offer require] codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR]] label=caller";
        let got = parse(s).unwrap();
        assert_eq!(
            got,
            vec![
                flag("replace-origin"),
                pair("via-branch", "auto-next"),
                flag("strict-source"),
                pair("ICE", "force"),
                pair("transport-protocol", "RTP/AVP"),
                list("rtcp-mux", vec![flag("offer"), flag("require")]),
                list(
                    "codec",
                    vec![
                        list("transcode", vec![flag("PCMA"), flag("PCMU")]),
                        list("accept", vec![flag("AMR-WB"), flag("AMR")]),
                    ]
                ),
                pair("label", "caller"),
            ]
        );
    }

    #[test]
    fn webrtc_template_and_whitespace() {
        let s = "\t transport-protocol=UDP/TLS/RTP/SAVPF  ICE=force trickle-ICE\nrtcp-mux=[ offer  require ] \
                 no-rtcp-attribute SDES=off generate-mid \r\n";
        let got = parse(s).unwrap();
        assert_eq!(got.len(), 7);
        assert_eq!(
            got[3],
            list("rtcp-mux", vec![flag("offer"), flag("require")])
        );
        assert_eq!(got[6], flag("generate-mid"));
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("   ").unwrap(), vec![]);
    }

    #[test]
    fn nested_pairs_and_lists() {
        assert_eq!(
            parse("codec=[transcode=[PCMA]]").unwrap(),
            vec![list("codec", vec![list("transcode", vec![flag("PCMA")])])]
        );
        assert_eq!(parse("x=[]").unwrap(), vec![list("x", vec![])]);
        assert_eq!(
            parse("a=[b=c d]").unwrap(),
            vec![list("a", vec![pair("b", "c"), flag("d")])]
        );
        assert_eq!(
            parse("a=[b] c").unwrap(),
            vec![list("a", vec![flag("b")]), flag("c")]
        );
        assert_eq!(
            parse("sdp-media-remove=[video message image]").unwrap(),
            vec![list(
                "sdp-media-remove",
                vec![flag("video"), flag("message"), flag("image")]
            )]
        );
        // ']' directly after a value or flag closes the list.
        assert_eq!(
            parse("a=[b=c]").unwrap(),
            vec![list("a", vec![pair("b", "c")])]
        );
        assert_eq!(
            parse("a=[b=[c]]").unwrap(),
            vec![list("a", vec![list("b", vec![flag("c")])])]
        );
    }

    #[test]
    fn values() {
        assert_eq!(parse("label=").unwrap(), vec![pair("label", "")]);
        assert_eq!(
            parse("blob64=aGk==").unwrap(),
            vec![pair("blob64", "aGk==")]
        );
        assert_eq!(
            parse("media-address=2001:db8::1").unwrap(),
            vec![pair("media-address", "2001:db8::1")]
        );
        assert_eq!(
            parse("delete-delay=30").unwrap(),
            vec![pair("delete-delay", "30")]
        );
        assert_eq!(parse("x=é ü").unwrap(), vec![pair("x", "é"), flag("ü")]);
    }

    #[test]
    fn quotes() {
        assert_eq!(
            parse(r#"label="my label" x"#).unwrap(),
            vec![pair("label", "my label"), flag("x")]
        );
        assert_eq!(parse(r#"m="a [b] c""#).unwrap(), vec![pair("m", "a [b] c")]);
        assert_eq!(
            parse(r#"m="say \"hi\" \\ \n""#).unwrap(),
            vec![pair("m", r#"say "hi" \ \n"#)]
        );
        assert_eq!(parse(r#"m="""#).unwrap(), vec![pair("m", "")]);
        assert_eq!(
            parse(r#"a=["x y" z="1 2"]"#).unwrap(),
            vec![list("a", vec![flag("x y"), pair("z", "1 2")])]
        );
        assert!(parse(r#"label="open"#)
            .unwrap_err()
            .contains("unterminated quote starting at byte 6"));
        assert!(parse(r#"label="a"b"#).is_err());
        assert!(parse(r#"m="\"#).is_err());
    }

    #[test]
    fn errors_with_positions() {
        assert_eq!(
            parse("a=[b c").unwrap_err(),
            "unbalanced '[' at byte 2: missing ']'"
        );
        assert_eq!(
            parse("a=[b=[c] d").unwrap_err(),
            "unbalanced '[' at byte 2: missing ']'"
        );
        assert_eq!(parse("a b]").unwrap_err(), "unbalanced ']' at byte 3");
        assert_eq!(parse("a=[b]]").unwrap_err(), "unbalanced ']' at byte 5");
        assert_eq!(parse("[a b]").unwrap_err(), "list without a key at byte 0");
        assert_eq!(
            parse("x=[[a b]]").unwrap_err(),
            "list without a key at byte 3"
        );
        assert_eq!(parse("a[b]").unwrap_err(), "'[' must follow '=' at byte 1");
        assert_eq!(parse("=x").unwrap_err(), "missing key before '=' at byte 0");
        assert!(parse("a=b[c]").unwrap_err().contains("unexpected '['"));
        assert!(parse("a=[b]c")
            .unwrap_err()
            .contains("unexpected character after ']' at byte 5"));
        assert!(parse("a=[b] ]").is_err());
    }

    #[test]
    fn depth_limit() {
        let nest = |n: usize| format!("{}x{}", "k=[".repeat(n), "]".repeat(n));
        assert!(parse(&nest(MAX_DEPTH)).is_ok());
        assert!(parse(&nest(MAX_DEPTH + 1))
            .unwrap_err()
            .contains("nested deeper than 8"));
        // A bracket bomb fails fast.
        let bomb = "k=[".repeat(1_000_000);
        assert!(parse(&bomb).is_err());
    }
}
