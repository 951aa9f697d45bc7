//! The control plane's transports: ng over UDP (with the cookie reply cache), TCP-ng, and
//! HTTP (`POST /ng`, `POST /ng-plain`, `GET /ping`, `GET /metrics`). All run as tasks on
//! one tokio runtime in the control thread; per-call work happens in the workers.

use super::bencode::{self, Frame, Value};
use super::ng::{error, Dispatcher, MAX_STREAM_SDP, MAX_UDP_SDP};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Requests and replies are bencode or JSON; a reply uses the request's encoding.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Encoding {
    Bencode,
    Json,
}

pub fn decode_body(body: &[u8]) -> Result<(Value, Encoding), String> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'{') {
        let j: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("Failed to decode JSON: {e}"))?;
        let v = bencode::from_json(&j).map_err(|e| format!("Failed to decode JSON: {e}"))?;
        Ok((v, Encoding::Json))
    } else {
        let v = bencode::decode_all(body).map_err(|e| format!("Failed to decode bencode: {e}"))?;
        Ok((v, Encoding::Bencode))
    }
}

pub fn encode_body(v: &Value, enc: Encoding, out: &mut Vec<u8>) {
    match enc {
        Encoding::Bencode => bencode::encode(v, out),
        Encoding::Json => {
            let _ = serde_json::to_writer(&mut *out, &bencode::to_json(v));
        }
    }
}

/// Decodes and dispatches one message body; returns the encoded reply.
pub async fn handle_body(d: &Dispatcher, body: &[u8], max_sdp: usize) -> (Vec<u8>, Encoding) {
    let (reply, enc) = match decode_body(body) {
        Ok((v, enc)) => (d.dispatch(&v, max_sdp).await, enc),
        Err(e) => {
            d.stats.malformed.fetch_add(1, Ordering::Relaxed);
            d.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("malformed ng message: {e}");
            let enc = if body.first() == Some(&b'{') { Encoding::Json } else { Encoding::Bencode };
            (error(e), enc)
        }
    };
    let mut out = Vec::with_capacity(256);
    encode_body(&reply, enc, &mut out);
    (out, enc)
}

enum Entry {
    /// Being processed: a retransmission meanwhile is dropped (the original's reply
    /// answers it; a later one is answered from the cache).
    InFlight,
    Done(Arc<Vec<u8>>),
}

/// At 50,000 replies a generation ends early (at most ~2 × 50,000 replies are held).
pub const MAX_COOKIES_PER_GENERATION: usize = 50_000;

/// Replies by cookie, in two generations swapped every `ttl` (so kept `ttl`..2×`ttl`).
pub struct CookieCache {
    cur: HashMap<Vec<u8>, Entry>,
    old: HashMap<Vec<u8>, Entry>,
    rotated: Instant,
    ttl: Duration,
}

pub enum Lookup {
    New,
    Waiting,
    Reply(Arc<Vec<u8>>),
}

impl CookieCache {
    pub fn new(ttl: Duration) -> CookieCache {
        CookieCache { cur: HashMap::new(), old: HashMap::new(), rotated: Instant::now(), ttl }
    }

    fn rotate(&mut self) {
        // a generation also ends when it is full: memory stays bounded at any request rate
        if self.rotated.elapsed() >= self.ttl || self.cur.len() >= MAX_COOKIES_PER_GENERATION {
            self.old = std::mem::take(&mut self.cur);
            self.rotated = Instant::now();
        }
    }

    /// Looks a key up; a new one is marked in flight.
    pub fn begin(&mut self, cookie: &[u8]) -> Lookup {
        self.rotate();
        let e = match self.cur.get_mut(cookie) {
            Some(e) => Some(e),
            None => self.old.get_mut(cookie),
        };
        match e {
            Some(Entry::Done(r)) => Lookup::Reply(r.clone()),
            Some(Entry::InFlight) => Lookup::Waiting,
            None => {
                self.cur.insert(cookie.to_vec(), Entry::InFlight);
                Lookup::New
            }
        }
    }

    /// Stores the reply.
    pub fn finish(&mut self, cookie: &[u8], reply: Arc<Vec<u8>>) {
        self.old.remove(cookie);
        self.cur.insert(cookie.to_vec(), Entry::Done(reply));
    }

    pub fn len(&self) -> usize {
        self.cur.len() + self.old.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Splits `<cookie> <body>`.
pub fn split_cookie(msg: &[u8]) -> Option<(&[u8], &[u8])> {
    let sp = msg.iter().position(|&b| b == b' ')?;
    if sp == 0 || sp > bencode::MAX_COOKIE_LEN {
        return None;
    }
    Some((&msg[..sp], &msg[sp + 1..]))
}

fn udp_cache_key(from: SocketAddr, cookie: &[u8]) -> Vec<u8> {
    let mut k = from.to_string().into_bytes();
    k.push(b' ');
    k.extend_from_slice(cookie);
    k
}

fn with_cookie(cookie: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cookie.len() + 1 + body.len());
    out.extend_from_slice(cookie);
    out.push(b' ');
    out.extend_from_slice(body);
    out
}

pub async fn serve_udp(sock: UdpSocket, d: Arc<Dispatcher>, cache: Arc<Mutex<CookieCache>>) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("ng udp: {e}");
                continue;
            }
        };
        let Some((cookie, body)) = split_cookie(&buf[..n]) else {
            d.stats.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%from, "ng message without cookie dropped");
            continue;
        };
        // replies are cached per sender and cookie: two proxies that happen to use the
        // same cookie (Kamailio's are `<n>_<pid>_<counter>`) never get each other's reply
        let key = udp_cache_key(from, cookie);
        let lookup = cache.lock().ok().map(|mut c| c.begin(&key));
        match lookup {
            Some(Lookup::Reply(r)) => {
                d.stats.retransmissions.fetch_add(1, Ordering::Relaxed);
                let _ = sock.send_to(&r, from).await;
                continue;
            }
            Some(Lookup::Waiting) => {
                d.stats.retransmissions.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Some(Lookup::New) => {}
            None => continue,
        }
        let (cookie, body) = (cookie.to_vec(), body.to_vec());
        let (d, cache, sock) = (d.clone(), cache.clone(), sock.clone());
        tokio::spawn(async move {
            let (reply, _) = handle_body(&d, &body, MAX_UDP_SDP).await;
            let dgram = Arc::new(with_cookie(&cookie, &reply));
            if let Ok(mut c) = cache.lock() {
                c.finish(&key, dgram.clone());
            }
            let _ = sock.send_to(&dgram, from).await;
        });
    }
}

/// Largest TCP-ng message buffered before a connection is closed.
const MAX_TCP_MESSAGE: usize = MAX_STREAM_SDP + 64 * 1024;

pub async fn serve_tcp(l: TcpListener, d: Arc<Dispatcher>, cache: Arc<Mutex<CookieCache>>) {
    loop {
        let Ok((s, _)) = l.accept().await else { continue };
        let (d, cache) = (d.clone(), cache.clone());
        tokio::spawn(async move { tcp_conn(s, d, cache).await });
    }
}

async fn tcp_conn(mut s: TcpStream, d: Arc<Dispatcher>, cache: Arc<Mutex<CookieCache>>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16384];
    loop {
        // drain every complete message in the buffer
        loop {
            match bencode::frame(&buf) {
                Frame::Complete { cookie_len, total_len } => {
                    let cookie = buf[..cookie_len].to_vec();
                    let body = buf[cookie_len + 1..total_len].to_vec();
                    buf.drain(..total_len);
                    let cached = cache.lock().ok().and_then(|mut c| match c.begin(&cookie) {
                        Lookup::Reply(r) => Some(r),
                        _ => None,
                    });
                    let out = match cached {
                        Some(r) => {
                            d.stats.retransmissions.fetch_add(1, Ordering::Relaxed);
                            r
                        }
                        None => {
                            let (reply, _) = handle_body(&d, &body, MAX_STREAM_SDP).await;
                            let msg = Arc::new(with_cookie(&cookie, &reply));
                            if let Ok(mut c) = cache.lock() {
                                c.finish(&cookie, msg.clone());
                            }
                            msg
                        }
                    };
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
                Frame::Incomplete => break,
                Frame::Invalid(why) => {
                    d.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("TCP-ng stream unusable ({why}); closing");
                    let mut out = b"0 ".to_vec();
                    bencode::encode(&error(format!("Malformed TCP-ng stream: {why}")), &mut out);
                    let _ = s.write_all(&out).await;
                    return;
                }
            }
        }
        if buf.len() > MAX_TCP_MESSAGE {
            d.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

pub async fn serve_http(l: TcpListener, d: Arc<Dispatcher>, cache: Arc<Mutex<CookieCache>>) {
    loop {
        let Ok((s, _)) = l.accept().await else { continue };
        let (d, cache) = (d.clone(), cache.clone());
        tokio::spawn(async move { http_conn(s, d, cache).await });
    }
}

const MAX_HTTP_HEAD: usize = 16 * 1024;
const MAX_HTTP_BODY: usize = MAX_STREAM_SDP + 64 * 1024;

struct HttpReply {
    status: u16,
    ctype: &'static str,
    body: Vec<u8>,
}

fn text(status: u16, msg: impl Into<String>) -> HttpReply {
    let mut body = msg.into().into_bytes();
    body.push(b'\n');
    HttpReply { status, ctype: "text/plain", body }
}

async fn http_conn(mut s: TcpStream, d: Arc<Dispatcher>, cache: Arc<Mutex<CookieCache>>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16384];
    loop {
        // read a head
        let (method, path, body_len, head_len, keep_alive) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut len = 0usize;
                    let mut bad_len = false;
                    let mut close = req.version == Some(0);
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            match std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok()) {
                                Some(l) => len = l,
                                None => bad_len = true,
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = h.value.eq_ignore_ascii_case(b"close");
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            bad_len = true;
                        }
                    }
                    if bad_len {
                        let _ = write_reply(&mut s, &text(400, "bad Content-Length (chunked bodies are not accepted)"), false).await;
                        return;
                    }
                    break (req.method.unwrap_or("").to_string(), req.path.unwrap_or("").to_string(), len, n, !close);
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > MAX_HTTP_HEAD {
                        let _ = write_reply(&mut s, &text(431, "request head too large"), false).await;
                        return;
                    }
                }
                Err(e) => {
                    let _ = write_reply(&mut s, &text(400, format!("malformed HTTP request: {e}")), false).await;
                    return;
                }
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        if body_len > MAX_HTTP_BODY {
            let _ = write_reply(&mut s, &text(413, format!("body larger than {MAX_HTTP_BODY} bytes")), false).await;
            return;
        }
        while buf.len() < head_len + body_len {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = buf[head_len..head_len + body_len].to_vec();
        buf.drain(..head_len + body_len);
        let reply = http_route(&method, &path, &body, &d, &cache).await;
        if write_reply(&mut s, &reply, keep_alive).await.is_err() || !keep_alive {
            return;
        }
    }
}

async fn http_route(method: &str, path: &str, body: &[u8], d: &Dispatcher, cache: &Mutex<CookieCache>) -> HttpReply {
    let path = path.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/ping") => text(200, "pong"),
        ("GET", "/metrics") => HttpReply { status: 200, ctype: "text/plain; version=0.0.4", body: metrics(d).await.into_bytes() },
        ("POST", "/ng-plain") => {
            let (reply, enc) = handle_body(d, body, MAX_STREAM_SDP).await;
            let ctype = if enc == Encoding::Json { "application/json" } else { "application/x-rtpengine-ng" };
            HttpReply { status: 200, ctype, body: reply }
        }
        ("POST", "/ng") => {
            let Some((cookie, msg)) = split_cookie(body) else {
                d.stats.malformed.fetch_add(1, Ordering::Relaxed);
                return text(400, "POST /ng needs a body of the form \"<cookie> <message>\"");
            };
            let cached = cache.lock().ok().and_then(|mut c| match c.begin(cookie) {
                Lookup::Reply(r) => Some(r),
                _ => None,
            });
            let out = match cached {
                Some(r) => r.as_ref().clone(),
                None => {
                    let (reply, _) = handle_body(d, msg, MAX_STREAM_SDP).await;
                    let out = with_cookie(cookie, &reply);
                    if let Ok(mut c) = cache.lock() {
                        c.finish(cookie, Arc::new(out.clone()));
                    }
                    out
                }
            };
            HttpReply { status: 200, ctype: "application/x-rtpengine-ng", body: out }
        }
        (_, "/ping" | "/metrics" | "/ng" | "/ng-plain") => text(405, format!("method {method} not allowed on {path}")),
        _ => text(404, format!("no such resource {path:?}; try POST /ng, POST /ng-plain, GET /ping")),
    }
}

async fn write_reply(s: &mut TcpStream, r: &HttpReply, keep_alive: bool) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        r.status,
        r.ctype,
        r.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(&r.body).await
}

/// Prometheus text exposition of the workers' and the control plane's counters.
pub async fn metrics(d: &Dispatcher) -> String {
    let s = d.worker_stats().await;
    let c = &d.stats;
    let mut out = String::new();
    let mut m = |name: &str, kind: &str, help: &str, v: u64| {
        out.push_str(&format!("# HELP eagw_{name} {help}\n# TYPE eagw_{name} {kind}\neagw_{name} {v}\n"));
    };
    m("sessions", "gauge", "Calls in progress.", s.calls);
    m("ports_in_use", "gauge", "Media port pairs in use.", s.ports_in_use);
    m("sessions_created_total", "counter", "Calls created.", s.calls_created);
    m("sessions_timed_out_total", "counter", "Calls that hit the media timeout.", s.calls_timed_out);
    m("packets_relayed_total", "counter", "RTP/RTCP packets relayed.", s.packets_relayed);
    m("bytes_relayed_total", "counter", "Bytes relayed.", s.bytes_relayed);
    m("junk_packets_total", "counter", "Datagrams on media ports that were not RTP/RTCP.", s.junk);
    m("foreign_packets_total", "counter", "Packets from addresses other than the stream's peer, dropped.", s.foreign);
    m("learning_drops_total", "counter", "Packets held back while the source was being learned.", s.learning_drops);
    m("undeliverable_packets_total", "counter", "Packets with no known destination or a failed send.", s.undeliverable);
    m("srtp_errors_total", "counter", "SRTP/SRTCP packets failing authentication or replayed, dropped.", s.srtp_errors);
    m("ice_checks_total", "counter", "ICE connectivity and consent checks answered.", s.ice_checks);
    m("stun_errors_total", "counter", "STUN failing authentication or parsing, not answered with success.", s.stun_errors);
    m("dtls_handshakes_total", "counter", "DTLS-SRTP handshakes completed.", s.dtls_handshakes);
    m("dtls_failures_total", "counter", "DTLS-SRTP handshakes failed (fingerprint, timeout, alert).", s.dtls_failures);
    m("dtls_errors_total", "counter", "DTLS records dropped (garbage, unvalidated source, no fingerprint yet).", s.dtls_errors);
    m("ice_consent_expired_total", "counter", "ICE streams that stopped sending: no consent check for 30 s.", s.consent_expired);
    m("rtcp_generated_total", "counter", "generate-RTCP: SR/RR compound packets eagw sent.", s.rtcp_generated);
    m("rtcp_consumed_total", "counter", "generate-RTCP: parties' RTCP packets read and not relayed.", s.rtcp_consumed);
    m("rtcp_errors_total", "counter", "generate-RTCP: parties' RTCP that did not parse, dropped.", s.rtcp_errors);
    m("transcoded_streams", "gauge", "Stream directions being transcoded.", s.transcoded_streams);
    m("transcoded_frames_total", "counter", "Frames eagw encoded and sent on transcoded streams.", s.transcoded_frames);
    m("concealed_frames_total", "counter", "Transcoded frames concealed (lost, late or missing input).", s.concealed_frames);
    m("late_frames_total", "counter", "Transcoded frames sent more than 5 ms after their playout time.", s.late_frames);
    m("transcode_errors_total", "counter", "Transcoding input that could not be used (bad payloads, decode errors).", s.transcode_errors);
    m("dtmf_events_total", "counter", "RFC 4733 telephone-event packets re-timed across a transcoded stream or originated by eagw.", s.dtmf_events);
    m("dtmf_tones_total", "counter", "DTMF digits received as telephone-event and played as tones to a side without it.", s.dtmf_tones);
    m("dtmf_detected_total", "counter", "DTMF digits detected in a party's audio and sent as telephone-event.", s.dtmf_detected);
    m("dtmf_played_total", "counter", "DTMF digits injected by play DTMF.", s.dtmf_played);
    m("dtmf_blocked_total", "counter", "telephone-event packets and in-band digits dropped by block DTMF.", s.dtmf_blocked);
    m("realtime_workers", "gauge", "Media workers running under real-time scheduling (general.worker_scheduling applied).", s.realtime_workers);
    let t = &s.turn;
    m("turn_allocations", "gauge", "TURN allocations alive.", t.allocations);
    m("turn_allocations_created_total", "counter", "TURN allocations made.", t.allocations_created);
    m("turn_allocations_expired_total", "counter", "TURN allocations that expired unrefreshed.", t.allocations_expired);
    m("turn_allocations_deleted_total", "counter", "TURN allocations deleted by the client or its closed connection.", t.allocations_deleted);
    m("turn_requests_total", "counter", "TURN/STUN requests.", t.requests);
    m("turn_challenges_total", "counter", "TURN requests without credentials answered with 401 and a nonce.", t.challenges);
    m("turn_auth_failures_total", "counter", "TURN requests with a wrong password, unknown user or another user's allocation (401/441).", t.auth_failures);
    m("turn_rest_expired_total", "counter", "TURN REST credentials past their expiry (401).", t.rest_expired);
    m("turn_stale_nonces_total", "counter", "TURN requests with an expired or foreign nonce (438).", t.stale_nonces);
    m("turn_quota_refused_total", "counter", "TURN allocations refused by the per-user quota (486).", t.quota);
    m("turn_capacity_refused_total", "counter", "TURN requests refused for capacity: total quota, relay ports, permissions, channels (508).", t.capacity);
    m("turn_denied_peers_total", "counter", "TURN permissions or channels to a denied peer address (403).", t.denied_peers);
    m("turn_malformed_total", "counter", "Malformed TURN messages or ChannelData.", t.malformed);
    m("turn_mismatches_total", "counter", "TURN requests for an allocation that does not exist or exists already (437).", t.mismatches);
    m("turn_no_allocation_total", "counter", "TURN data for no allocation, dropped.", t.no_allocation);
    m("turn_no_permission_total", "counter", "TURN data without a permission or channel, dropped.", t.no_permission);
    m("turn_bandwidth_drops_total", "counter", "TURN data over an allocation's bandwidth cap, dropped.", t.bandwidth_drops);
    m("turn_to_peer_packets_total", "counter", "TURN packets relayed from clients to peers.", t.to_peer_packets);
    m("turn_to_client_packets_total", "counter", "TURN packets relayed from peers to clients.", t.to_client_packets);
    m("turn_send_errors_total", "counter", "TURN sends that failed.", t.send_errors);
    m("turn_tls_errors_total", "counter", "TURN TLS connections closed on bad TLS input (not TLS, bad records, failed handshakes).", t.tls_errors);
    m("turn_tls_unfinished_total", "counter", "TURN TLS connections that ended before their handshake completed.", t.tls_unfinished);
    m("ng_errors_total", "counter", "ng requests answered with an error.", c.errors.load(Ordering::Relaxed));
    m("ng_malformed_total", "counter", "ng requests that could not be decoded.", c.malformed.load(Ordering::Relaxed));
    m("ng_retransmissions_total", "counter", "ng requests answered from the cookie cache.", c.retransmissions.load(Ordering::Relaxed));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_cache_in_flight_done_and_bounded() {
        let mut c = CookieCache::new(Duration::from_secs(30));
        assert!(matches!(c.begin(b"k"), Lookup::New));
        assert!(matches!(c.begin(b"k"), Lookup::Waiting));
        c.finish(b"k", Arc::new(b"r".to_vec()));
        assert!(matches!(c.begin(b"k"), Lookup::Reply(r) if r.as_slice() == b"r"));
        assert_eq!(udp_cache_key("127.0.0.1:5060".parse().unwrap(), b"c1"), b"127.0.0.1:5060 c1");
        // a full generation rotates early: memory stays bounded
        for i in 0..(2 * MAX_COOKIES_PER_GENERATION + 10) {
            let k = i.to_string();
            c.begin(k.as_bytes());
            c.finish(k.as_bytes(), Arc::new(vec![]));
        }
        assert!(c.len() <= 2 * MAX_COOKIES_PER_GENERATION);
    }

    #[test]
    fn cookie_split() {
        assert_eq!(split_cookie(b"abc d1:xe"), Some((&b"abc"[..], &b"d1:xe"[..])));
        assert_eq!(split_cookie(b" d1:xe"), None);
        assert_eq!(split_cookie(b"nospace"), None);
    }
}
