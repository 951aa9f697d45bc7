//! Shared harness of the integration tests: start the real `eagw` binary on loopback with
//! a config of the test's own (ports chosen per test so tests run in parallel), talk ng
//! to it, and send/receive RTP with plain sockets.
#![allow(dead_code)]

pub mod audio;

use eagw::control::bencode::{self, DictBuilder, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Eagw {
    child: Child,
    pub ng: SocketAddr,
    pub http: SocketAddr,
    pub port_min: u16,
    pub port_max: u16,
    ng_sock: UdpSocket,
    cookie: u64,
    pub log: std::path::PathBuf,
}

/// Each test gets its own slot: its own ng/HTTP ports and a media range of 400 ports.
pub fn ports(slot: u16) -> (u16, u16, u16, u16) {
    let base = 21000 + slot * 10;
    (base, base + 1, 40000 + slot * 400, 40000 + slot * 400 + 399)
}

impl Eagw {
    pub fn start(slot: u16, extra: &str) -> Eagw {
        let (ng, http, pmin, pmax) = ports(slot);
        // `extra` may override [general] and [media] keys: they are merged in front
        let (general_extra, media_extra, turn_extra) = split_extra(extra);
        // a test may narrow its media range (e.g. to give TURN relay ports the rest)
        let media_ports = if media_extra.contains("port_min") { String::new() } else { format!("port_min = {pmin}\nport_max = {pmax}\n") };
        let turn_extra = if turn_extra.is_empty() { String::new() } else { format!("[turn]\n{turn_extra}") };
        let cfg = format!(
            "[general]\nworkers = 2\nlog = \"info\"\n{general_extra}\n\
             [control]\nng_udp = [\"127.0.0.1:{ng}\"]\nng_tcp = [\"127.0.0.1:{ng}\"]\nhttp = [\"127.0.0.1:{http}\"]\n\
             [media]\n{media_ports}{media_extra}\n\
             [[interface]]\nname = \"access\"\naddress = \"127.0.0.1\"\naddress6 = \"::1\"\n\
             [[interface]]\nname = \"core\"\naddress = \"127.0.0.1\"\naddress6 = \"::1\"\n{turn_extra}"
        );
        let dir = std::env::temp_dir().join(format!("eagw-test-{slot}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg_path = dir.join("eagw.toml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = dir.join("eagw.log");
        let child = Command::new(env!("CARGO_BIN_EXE_eagw"))
            .args(["run", "--config", cfg_path.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start eagw");
        let ng_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        ng_sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut e = Eagw {
            child,
            ng: format!("127.0.0.1:{ng}").parse().unwrap(),
            http: format!("127.0.0.1:{http}").parse().unwrap(),
            port_min: pmin,
            port_max: pmax,
            ng_sock,
            cookie: 0,
            log,
        };
        let t0 = Instant::now();
        loop {
            if let Some(r) = e.try_ng(&DictBuilder::new().str("command", "ping").build()) {
                assert_eq!(r.get("result").and_then(Value::as_str), Some("pong"));
                break;
            }
            if let Ok(Some(st)) = e.child.try_wait() {
                panic!("eagw exited with {st}: {}", std::fs::read_to_string(&e.log).unwrap_or_default());
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "eagw did not answer ping");
        }
        e
    }

    /// Throws away replies still queued from earlier requests (late answers to copies).
    fn discard_stale(&self) {
        let mut buf = vec![0u8; 65536];
        self.ng_sock.set_nonblocking(true).unwrap();
        while self.ng_sock.recv_from(&mut buf).is_ok() {}
        self.ng_sock.set_nonblocking(false).unwrap();
    }

    /// Sends a raw datagram to the ng port and returns the raw reply (or None on timeout).
    pub fn raw_ng(&self, msg: &[u8]) -> Option<Vec<u8>> {
        self.discard_stale();
        self.ng_sock.send_to(msg, self.ng).unwrap();
        let mut buf = vec![0u8; 65536];
        match self.ng_sock.recv_from(&mut buf) {
            Ok((n, _)) => Some(buf[..n].to_vec()),
            Err(_) => None,
        }
    }

    /// Sends one request, retransmitting the same cookie as Kamailio does (5 tries, 500 ms
    /// apart), and returns the reply that carries it; None if none came.
    pub fn try_ng(&mut self, req: &Value) -> Option<Value> {
        self.cookie += 1;
        let cookie = format!("t{}_{}", std::process::id(), self.cookie);
        let mut msg = format!("{cookie} ").into_bytes();
        bencode::encode(req, &mut msg);
        self.discard_stale();
        let mut buf = vec![0u8; 65536];
        for _ in 0..5 {
            self.ng_sock.send_to(&msg, self.ng).unwrap();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(500) {
                let Ok((n, _)) = self.ng_sock.recv_from(&mut buf) else { break };
                let (c, body) = split_once(&buf[..n], b' ').expect("reply has a cookie");
                if c == cookie.as_bytes() {
                    return Some(bencode::decode_all(body).expect("reply is bencode"));
                }
            }
        }
        None
    }

    pub fn ng(&mut self, req: &Value) -> Value {
        self.try_ng(req).expect("no ng reply")
    }

    /// One request over TCP-ng.
    pub fn ng_tcp(&self, req: &Value) -> Value {
        let mut s = TcpStream::connect(self.ng).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut msg = b"tcp1 ".to_vec();
        bencode::encode(req, &mut msg);
        s.write_all(&msg).unwrap();
        let mut buf = vec![];
        let mut chunk = [0u8; 65536];
        loop {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "TCP-ng closed");
            buf.extend_from_slice(&chunk[..n]);
            if let bencode::Frame::Complete { cookie_len, total_len } = bencode::frame(&buf) {
                assert_eq!(&buf[..cookie_len], b"tcp1");
                return bencode::decode_all(&buf[cookie_len + 1..total_len]).unwrap();
            }
        }
    }

    /// An HTTP request; returns (status, body).
    pub fn http(&self, method: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(self.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut out = vec![];
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
        let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (status, out[at..].to_vec())
    }

    pub fn statistics(&mut self) -> Value {
        let r = self.ng(&DictBuilder::new().str("command", "statistics").build());
        r.get("statistics").unwrap().clone()
    }

    pub fn total_stat(&mut self, key: &str) -> i64 {
        let s = self.statistics();
        s.get("totalstatistics").and_then(|t| t.get(key)).and_then(Value::as_int).unwrap()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The eagw process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (up to 5 s) for the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Eagw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn split_extra(extra: &str) -> (String, String, String) {
    let (mut g, mut m, mut t) = (String::new(), String::new(), String::new());
    let mut into = 0;
    for l in extra.lines() {
        match l.trim() {
            "[general]" => into = 0,
            "[media]" => into = 1,
            "[turn]" => into = 2,
            "" => {}
            _ => {
                let out = [&mut g, &mut m, &mut t];
                out[into].push_str(l);
                out[into].push('\n');
            }
        }
    }
    (g, m, t)
}

pub fn split_once(b: &[u8], c: u8) -> Option<(&[u8], &[u8])> {
    let i = b.iter().position(|&x| x == c)?;
    Some((&b[..i], &b[i + 1..]))
}

pub fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// An SDP for one audio stream at 127.0.0.1:port.
pub fn sdp(port: u16, extra: &str) -> String {
    format!(
        "v=0\r\no=- 1545997027 1 IN IP4 127.0.0.1\r\ns=test\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n{extra}a=sendrecv\r\n"
    )
}

pub fn offer(call: &str, from: &str, sdp: &str) -> DictBuilder {
    DictBuilder::new()
        .str("command", "offer")
        .str("call-id", call)
        .str("from-tag", from)
        .str("sdp", sdp)
        .val("supports", Value::List(vec![Value::str("load limit")]))
}

pub fn answer(call: &str, from: &str, to: &str, sdp: &str) -> DictBuilder {
    DictBuilder::new()
        .str("command", "answer")
        .str("call-id", call)
        .str("from-tag", from)
        .str("to-tag", to)
        .str("sdp", sdp)
}

/// The `m=audio` port and `c=` address of a reply SDP.
pub fn media_addr(sdp: &str) -> SocketAddr {
    let p = eagw::sdp::parse(sdp).unwrap();
    let m = &p.media[0];
    let c = m.connection().or_else(|| p.session_connection()).unwrap();
    SocketAddr::new(c.address.parse().unwrap(), m.port)
}

/// A bound caller/callee socket on loopback.
pub fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    s
}

pub fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let ts = seq as u32 * 160;
    let mut p = vec![0x80, 0, (seq >> 8) as u8, seq as u8];
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An RTP packet with every header field given (payload type, marker, sequence number,
/// timestamp, SSRC).
pub fn rtp_full(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A minimal RTCP receiver report.
pub fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0, 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// Receives datagrams until `quiet` passes with nothing; returns them.
pub fn drain(s: &UdpSocket, quiet: Duration) -> Vec<(Vec<u8>, SocketAddr)> {
    s.set_read_timeout(Some(quiet)).unwrap();
    let mut out = vec![];
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = s.recv_from(&mut buf) {
        out.push((buf[..n].to_vec(), from));
    }
    out
}

/// A call set up through eagw between two fresh loopback sockets.
pub struct TestCall {
    pub id: String,
    pub a: UdpSocket,
    pub b: UdpSocket,
    /// Where A sends (eagw's A-facing port) and where B sends.
    pub to_a_side: SocketAddr,
    pub to_b_side: SocketAddr,
}

pub fn setup_call(e: &mut Eagw, id: &str, offer_extra: impl Fn(DictBuilder) -> DictBuilder) -> TestCall {
    let a = peer();
    let b = peer();
    let r = e.ng(&offer_extra(offer(id, "tag-a", &sdp(a.local_addr().unwrap().port(), ""))).build());
    assert_eq!(s(&r, "result"), "ok", "offer: {r:?}");
    let to_b_side = media_addr(&s(&r, "sdp"));
    let r = e.ng(&answer(id, "tag-a", "tag-b", &sdp(b.local_addr().unwrap().port(), "")).build());
    assert_eq!(s(&r, "result"), "ok", "answer: {r:?}");
    let to_a_side = media_addr(&s(&r, "sdp"));
    TestCall { id: id.into(), a, b, to_a_side, to_b_side }
}

/// Per-stream stats of a query/delete reply: tag → [(local port, packets, bytes, errors)].
pub fn stream_stats(reply: &Value, tag: &str) -> Vec<(i64, i64, i64, i64)> {
    let mut out = vec![];
    let leg = reply.get("tags").and_then(|t| t.get(tag)).unwrap_or_else(|| panic!("no tag {tag} in {reply:?}"));
    for m in leg.get("medias").and_then(Value::as_list).unwrap() {
        for st in m.get("streams").and_then(Value::as_list).unwrap() {
            let stats = st.get("stats").unwrap();
            let g = |k: &str| stats.get(k).and_then(Value::as_int).unwrap();
            out.push((st.get("local port").and_then(Value::as_int).unwrap(), g("packets"), g("bytes"), g("errors")));
        }
    }
    out
}

pub fn totals(reply: &Value, kind: &str, key: &str) -> i64 {
    reply.get("totals").and_then(|t| t.get(kind)).and_then(|t| t.get(key)).and_then(Value::as_int).unwrap()
}

// ---- ffmpeg as an independent RTP/SRTP peer ----------------------------------------

pub fn require_ffmpeg() {
    let ok = std::process::Command::new("ffmpeg").arg("-version").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "ffmpeg missing: `make test` installs it (scripts/deps.sh test)");
}

/// A free even port whose odd neighbour is free too (ffmpeg binds RTP and RTCP).
pub fn free_pair() -> u16 {
    for _ in 0..100 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = s.local_addr().unwrap().port() & !1;
        drop(s);
        if p > 1024 && std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// Power of `freq` in 8 kHz samples (Goertzel).
pub fn goertzel(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s0 = v as f64 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2
}

/// ffmpeg receiving `port` (plain, or SRTP with `crypto`), 1.95 s of audio as s16 samples.
pub fn ffmpeg_rx(dir: &std::path::Path, name: &str, port: u16, crypto: Option<&str>) -> std::process::Child {
    let (proto, line) = match crypto {
        Some(c) => ("RTP/SAVP", format!("a={c}\r\n")),
        None => ("RTP/AVP", String::new()),
    };
    let sdp_path = dir.join(format!("{name}.sdp"));
    std::fs::write(&sdp_path, format!("v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=rx\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\n{line}")).unwrap();
    std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file,udp,rtp,srtp", "-analyzeduration", "100000", "-i"])
        .arg(&sdp_path)
        .args(["-t", "1.95", "-f", "s16le", "-ar", "8000", "-ac", "1"])
        .arg(dir.join(format!("{name}.raw")))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// ffmpeg sending a 2 s PCMU tone from `local` to `to`, SRTP when `key` is given.
pub fn ffmpeg_tx(freq: f64, local: u16, to: u16, key: Option<&eagw::transport::sdes::SrtpKey>) {
    let mut c = std::process::Command::new("ffmpeg");
    c.args(["-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={freq}:duration=2:sample_rate=8000:samples_per_frame=160"))
        .args(["-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-f", "rtp"]);
    match key {
        Some(k) => {
            use base64::Engine;
            c.args(["-srtp_out_suite", k.suite.name(), "-srtp_out_params"])
                .arg(base64::engine::general_purpose::STANDARD.encode(&k.material))
                .arg(format!("srtp://127.0.0.1:{to}?localport={local}"));
        }
        None => {
            c.arg(format!("rtp://127.0.0.1:{to}?localport={local}"));
        }
    }
    let out = c.stdin(std::process::Stdio::null()).output().unwrap();
    assert!(out.status.success(), "ffmpeg sender: {}", String::from_utf8_lossy(&out.stderr));
}

/// Waits for the receiver (SIGINT if it hangs) and checks it decoded a `freq` tone.
pub fn finish_rx(rx: std::process::Child, dir: &std::path::Path, name: &str, freq: f64, other: f64) {
    let mut rx = rx;
    for _ in 0..30 {
        if rx.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if rx.try_wait().unwrap().is_none() {
        unsafe { libc::kill(rx.id() as i32, libc::SIGINT) };
    }
    let out = rx.wait_with_output().unwrap();
    let pcm: Vec<i16> = std::fs::read(dir.join(format!("{name}.raw")))
        .unwrap_or_else(|_| panic!("ffmpeg receiver wrote nothing: {}", String::from_utf8_lossy(&out.stderr)))
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert!(pcm.len() >= 15_000, "{name}: decoded {} samples of 16000", pcm.len());
    assert!(goertzel(&pcm, freq) > 1000.0 * goertzel(&pcm, other), "{name}: not a {freq} Hz tone");
}

