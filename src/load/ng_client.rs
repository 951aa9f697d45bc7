//! A pipelined ng client over UDP: keeps a window of requests in flight, retransmits with the
//! same cookie, times out, and hands each reply to a [`Driver`] that decides the call's next
//! command. Also builds the SDP bodies and reads the gateway's address back from its SDP.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::control::bencode::{self, Value};

use super::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Offer,
    Answer,
    Delete,
}

impl Cmd {
    pub const ALL: [Cmd; 3] = [Cmd::Offer, Cmd::Answer, Cmd::Delete];
    pub fn name(self) -> &'static str {
        match self {
            Cmd::Offer => "offer",
            Cmd::Answer => "answer",
            Cmd::Delete => "delete",
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
}

/// What became of one request.
pub enum Outcome<'a> {
    /// `result: ok`; the whole reply dictionary.
    Ok(&'a Value),
    /// `result: error` with its `error-reason`.
    Error(String),
    /// `result: load limit` with its `message`.
    LoadLimit(String),
    /// No reply after all tries.
    Timeout,
    /// Undecodable reply or an unexpected `result`.
    Bad(String),
}

/// Builds requests and reacts to replies for a set of calls.
pub trait Driver {
    /// The request dictionary (without cookie) for `cmd` of call `call`.
    fn request(&mut self, call: usize, cmd: Cmd) -> Value;
    /// Called once per request with its outcome; returns the call's next command, if any.
    fn reply(&mut self, call: usize, cmd: Cmd, outcome: Outcome<'_>) -> Option<Cmd>;
}

pub struct EngineCfg {
    pub inflight: usize,
    pub retransmit: Duration,
    pub tries: u32,
    /// New calls are started no faster than one per interval (zero: as fast as the window allows).
    pub admit_interval: Duration,
}

#[derive(Clone, Default)]
pub struct CmdStats {
    pub requests: u64,
    pub retransmits: u64,
    pub ok: u64,
    pub warnings: u64,
    pub errors: u64,
    pub load_limit: u64,
    pub timeouts: u64,
    pub bad: u64,
    /// Round-trip times (µs) of answered requests, from the first send.
    pub latencies_us: Vec<u32>,
}

impl CmdStats {
    pub fn failures(&self) -> u64 {
        self.errors + self.load_limit + self.timeouts + self.bad
    }
    /// Latency quantile in ms.
    pub fn latency_ms(&self, q: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_unstable();
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    }
}

#[derive(Clone, Default)]
pub struct EngineStats {
    pub cmds: [CmdStats; 3],
    /// Error reasons / load-limit messages / warnings and how often they came.
    pub reasons: BTreeMap<String, u64>,
    /// Replies that matched no outstanding request (answers to retransmissions, strays).
    pub stray_replies: u64,
    pub elapsed_s: f64,
}

impl EngineStats {
    /// Adds another run's figures (set-up done in two halves).
    pub fn merge(&mut self, o: &EngineStats) {
        for (a, b) in self.cmds.iter_mut().zip(&o.cmds) {
            a.requests += b.requests;
            a.retransmits += b.retransmits;
            a.ok += b.ok;
            a.warnings += b.warnings;
            a.errors += b.errors;
            a.load_limit += b.load_limit;
            a.timeouts += b.timeouts;
            a.bad += b.bad;
            a.latencies_us.extend_from_slice(&b.latencies_us);
        }
        for (k, v) in &o.reasons {
            *self.reasons.entry(k.clone()).or_insert(0) += v;
        }
        self.stray_replies += o.stray_replies;
        self.elapsed_s += o.elapsed_s;
    }

    pub fn cmd(&self, c: Cmd) -> &CmdStats {
        &self.cmds[c.idx()]
    }
    fn note(&mut self, what: String) {
        if self.reasons.len() < 64 || self.reasons.contains_key(&what) {
            *self.reasons.entry(what).or_insert(0) += 1;
        }
    }
}

struct Pending {
    call: usize,
    cmd: Cmd,
    msg: Vec<u8>,
    first: Instant,
    deadline: Instant,
    tries: u32,
}

/// Receives each request's outcome: `(call, command, outcome)`.
pub type OnOutcome<'a> = dyn FnMut(usize, Cmd, Outcome<'_>) + 'a;

pub struct NgClient {
    sock: UdpSocket,
    tag: String,
    next: u64,
    rx: Vec<u8>,
    out: Vec<u8>,
    pending: HashMap<u64, Pending>,
}

impl NgClient {
    /// A client socket bound to the loopback address of `target`'s family and connected to it.
    pub fn new(target: SocketAddr, local_ip: IpAddr, tag: &str) -> io::Result<NgClient> {
        let sock = UdpSocket::bind(SocketAddr::new(local_ip, 0))?;
        sock.connect(target)?;
        sock.set_nonblocking(true)?;
        sys::set_rcvbuf(sock.as_raw_fd(), 4 << 20);
        Ok(NgClient {
            sock,
            tag: tag.to_string(),
            next: 0,
            rx: vec![0u8; 65536],
            out: Vec::with_capacity(4096),
            pending: HashMap::new(),
        })
    }

    /// The socket, for callers that wait on it together with others (epoll).
    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Requests sent and not yet answered or timed out.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    fn send_raw(sock: &UdpSocket, msg: &[u8]) {
        // A failed send (ECONNREFUSED after an ICMP error, ENOBUFS) is retried by the timer.
        let _ = sock.send(msg);
    }

    /// Sends `dict` (a request without cookie) as command `cmd` of call `call`.
    pub fn submit(
        &mut self,
        call: usize,
        cmd: Cmd,
        dict: &Value,
        cfg: &EngineCfg,
        stats: &mut EngineStats,
    ) {
        let id = self.next;
        self.next += 1;
        self.out.clear();
        self.out
            .extend_from_slice(format!("{}_{} ", self.tag, id).as_bytes());
        bencode::encode(dict, &mut self.out);
        Self::send_raw(&self.sock, &self.out);
        stats.cmds[cmd.idx()].requests += 1;
        let now = Instant::now();
        self.pending.insert(
            id,
            Pending {
                call,
                cmd,
                msg: self.out.clone(),
                first: now,
                deadline: now + cfg.retransmit,
                tries: 1,
            },
        );
    }

    /// The earliest retransmission or timeout among the requests in flight.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// Retransmits the requests that are due (same cookie) and gives up on those that were
    /// sent `cfg.tries` times: their [`Outcome::Timeout`] goes to `on`.
    pub fn expire(
        &mut self,
        now: Instant,
        cfg: &EngineCfg,
        stats: &mut EngineStats,
        on: &mut OnOutcome<'_>,
    ) {
        let expired: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let p = self.pending.get_mut(&id).expect("pending entry");
            if p.tries >= cfg.tries {
                let p = self.pending.remove(&id).expect("pending entry");
                stats.cmds[p.cmd.idx()].timeouts += 1;
                on(p.call, p.cmd, Outcome::Timeout);
            } else {
                p.tries += 1;
                p.deadline = now + cfg.retransmit;
                stats.cmds[p.cmd.idx()].retransmits += 1;
                Self::send_raw(&self.sock, &p.msg);
            }
        }
    }

    /// Reads every queued reply; the outcome of each one that answers a request in flight
    /// goes to `on` (others count as stray).
    pub fn drain(&mut self, stats: &mut EngineStats, on: &mut OnOutcome<'_>) {
        loop {
            let n = match self.sock.recv(&mut self.rx) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => break, // e.g. ECONNREFUSED: the target is not listening; timers handle it
            };
            let arrived = Instant::now();
            let msg = &self.rx[..n];
            let Some(sp) = msg.iter().position(|&b| b == b' ') else {
                stats.stray_replies += 1;
                continue;
            };
            let id = std::str::from_utf8(&msg[..sp])
                .ok()
                .and_then(|c| c.strip_prefix(self.tag.as_str()))
                .and_then(|c| c.strip_prefix('_'))
                .and_then(|c| c.parse::<u64>().ok());
            let Some(p) = id.and_then(|id| self.pending.remove(&id)) else {
                stats.stray_replies += 1;
                continue;
            };
            let lat = arrived
                .duration_since(p.first)
                .as_micros()
                .min(u32::MAX as u128) as u32;
            let cs = &mut stats.cmds[p.cmd.idx()];
            cs.latencies_us.push(lat);
            let name = p.cmd.name();
            match bencode::decode_all(&msg[sp + 1..]) {
                Err(_) => {
                    cs.bad += 1;
                    stats.note(format!("{name}: undecodable reply"));
                    on(p.call, p.cmd, Outcome::Bad("undecodable reply".into()))
                }
                Ok(v) => {
                    let result = dget(&v, "result").and_then(vstr).unwrap_or("");
                    match result {
                        "ok" => {
                            cs.ok += 1;
                            if let Some(w) = dget(&v, "warning").and_then(vstr) {
                                cs.warnings += 1;
                                stats.note(format!("{name} warning: {w}"));
                            }
                            on(p.call, p.cmd, Outcome::Ok(&v))
                        }
                        "error" => {
                            cs.errors += 1;
                            let r = dget(&v, "error-reason")
                                .and_then(vstr)
                                .unwrap_or("(no reason)")
                                .to_string();
                            stats.note(format!("{name} error: {r}"));
                            on(p.call, p.cmd, Outcome::Error(r))
                        }
                        "load limit" => {
                            cs.load_limit += 1;
                            let m = dget(&v, "message").and_then(vstr).unwrap_or("").to_string();
                            stats.note(format!("{name} load limit: {m}"));
                            on(p.call, p.cmd, Outcome::LoadLimit(m))
                        }
                        other => {
                            cs.bad += 1;
                            let r = format!("unexpected result '{other}'");
                            stats.note(format!("{name}: {r}"));
                            on(p.call, p.cmd, Outcome::Bad(r))
                        }
                    }
                }
            }
        }
    }

    /// Runs every call in `calls`, starting with `first`, until each has no next command.
    /// Every request ends by a reply or after `cfg.tries` sends, so this always returns.
    pub fn run(
        &mut self,
        driver: &mut dyn Driver,
        first: Cmd,
        calls: &[usize],
        cfg: &EngineCfg,
        stats: &mut EngineStats,
    ) {
        let start = Instant::now();
        let window = cfg.inflight.max(1);
        let mut next_new = 0usize;
        let mut ready: VecDeque<(usize, Cmd)> = VecDeque::new();
        let admit_at = |i: usize| start + cfg.admit_interval * i as u32;
        loop {
            let now = Instant::now();
            // Fill the window: continuing calls first, then new ones as the ramp allows.
            while self.in_flight() < window {
                let (call, cmd) = if let Some(x) = ready.pop_front() {
                    x
                } else if next_new < calls.len() && now >= admit_at(next_new) {
                    next_new += 1;
                    (calls[next_new - 1], first)
                } else {
                    break;
                };
                let dict = driver.request(call, cmd);
                self.submit(call, cmd, &dict, cfg, stats);
            }

            // Retransmissions and timeouts.
            let now = Instant::now();
            self.expire(now, cfg, stats, &mut |call, cmd, outcome| {
                if let Some(next) = driver.reply(call, cmd, outcome) {
                    ready.push_back((call, next));
                }
            });

            if self.in_flight() == 0 && ready.is_empty() && next_new >= calls.len() {
                break;
            }
            if !ready.is_empty() && self.in_flight() < window {
                continue;
            }

            // Wait for replies until the next deadline (retransmit or admission).
            let mut until = now + Duration::from_millis(100);
            if let Some(d) = self.next_deadline() {
                until = until.min(d);
            }
            if self.in_flight() < window && next_new < calls.len() {
                until = until.min(admit_at(next_new));
            }
            let wait = until.saturating_duration_since(Instant::now());
            let wait_ms = (wait.as_micros().div_ceil(1000)).min(100) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, wait_ms) };

            self.drain(stats, &mut |call, cmd, outcome| {
                if let Some(next) = driver.reply(call, cmd, outcome) {
                    ready.push_back((call, next));
                }
            });
        }
        stats.elapsed_s += start.elapsed().as_secs_f64();
    }
}

// ---- Value helpers (thin wrappers over the codec's API) ----

/// The value under `key` in a dictionary.
pub fn dget<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key)
}

pub fn vbytes(v: &Value) -> Option<&[u8]> {
    v.as_bytes()
}

pub fn vstr(v: &Value) -> Option<&str> {
    v.as_str()
}

pub fn s(v: &str) -> Value {
    Value::str(v)
}

pub fn list(items: &[&str]) -> Value {
    Value::List(items.iter().map(|x| Value::str(*x)).collect())
}

pub fn dict(items: Vec<(&str, Value)>) -> Value {
    items
        .into_iter()
        .fold(bencode::DictBuilder::new(), |b, (k, v)| b.val(k, v))
        .build()
}

// ---- SDP ----

/// A minimal PCMU audio SDP for an endpoint at `addr`.
pub fn sdp_for(addr: SocketAddr, sess_id: u64, ptime_ms: u32) -> String {
    let (fam, ip) = match addr.ip() {
        IpAddr::V4(v4) => ("IP4", v4.to_string()),
        IpAddr::V6(v6) => ("IP6", v6.to_string()),
    };
    format!(
        "v=0\r\no=- {sess_id} 1 IN {fam} {ip}\r\ns=eagw-load\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:{ptime_ms}\r\na=sendrecv\r\n",
        port = addr.port()
    )
}

/// The RTP address of the first audio stream in `sdp` (media-level `c=` over session-level).
pub fn sdp_audio_addr(sdp: &[u8]) -> Result<SocketAddr, String> {
    let text = std::str::from_utf8(sdp).map_err(|_| "SDP is not UTF-8".to_string())?;
    let mut session_c: Option<IpAddr> = None;
    let mut media_c: Option<IpAddr> = None;
    let mut port: Option<u16> = None;
    let mut in_audio = false;
    let mut seen_m = false;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("m=") {
            if port.is_some() {
                break; // only the first audio section matters
            }
            seen_m = true;
            let mut it = rest.split_whitespace();
            in_audio = it.next() == Some("audio");
            if in_audio {
                let p: u16 = it
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse().ok())
                    .ok_or("bad m=audio port")?;
                if p == 0 {
                    return Err("audio stream rejected (port 0)".into());
                }
                port = Some(p);
            }
        } else if let Some(rest) = line.strip_prefix("c=") {
            let mut it = rest.split_whitespace();
            let (_net, _fam, addr) = (it.next(), it.next(), it.next());
            let ip: Option<IpAddr> = addr
                .and_then(|a| a.split('/').next())
                .and_then(|a| a.parse().ok());
            if !seen_m {
                session_c = ip;
            } else if in_audio {
                media_c = ip;
            }
        }
    }
    let port = port.ok_or("no m=audio line")?;
    let ip = media_c.or(session_c).ok_or("no c= address")?;
    Ok(SocketAddr::new(ip, port))
}
