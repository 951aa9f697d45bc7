//! `eagw load webrtc`: calls whose caller is a fake browser. Per call the tool sends the
//! browser's offer (ICE, DTLS `actpass`, rtcp-mux) over ng with the flags Kamailio uses to
//! terminate WebRTC towards IMS (`ICE=remove`, `DTLS=off`, `transport-protocol=RTP/AVP` or
//! `RTP/SAVP` for an SDES leg, `rtcp-mux=[demux]`), answers as the IMS side (plain RTP, or
//! RTP/SAVP with its own `a=crypto`), then plays the browser on its socket: one ICE check
//! with USE-CANDIDATE to the gateway's candidate (the success response must authenticate with
//! the gateway's password) and the DTLS handshake against the gateway's `a=fingerprint`,
//! as server when the gateway's answer says `a=setup:active` (the default), as client for
//! `passive` (`--dtls passive` sends `DTLS=passive` with the answer). The SRTP keys of the
//! handshake then protect the browser leg of the media phase.
//!
//! The set-up engine keeps `--inflight` calls in set-up at once over one epoll (ng socket and
//! every browser socket); every step is bounded: ng by its retransmissions, ICE and DTLS
//! together by `--handshake-timeout`, and a call that misses it is counted as failed.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::bencode::Value;
use crate::transport::dtls::{parse_fingerprint, Dtls, Fingerprint, Identity, Keys};
use crate::transport::ice::{self, Creds};
use crate::transport::sdes::{self, Crypto, SrtpKey};

use super::media::Hist;
use super::ng_client::{
    dget, dict, list, s, vbytes, Cmd, EngineCfg, EngineStats, NgClient, Outcome,
};
use super::sys;

/// How the IMS side of the call carries media.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImsMode {
    /// Plain RTP (`transport-protocol=RTP/AVP`).
    Rtp,
    /// SDES-SRTP (`transport-protocol=RTP/SAVP`, keys in `a=crypto`).
    Sdes,
}

impl ImsMode {
    pub fn parse(v: &str) -> Option<ImsMode> {
        match v.to_ascii_lowercase().as_str() {
            "rtp" | "plain" => Some(ImsMode::Rtp),
            "sdes" | "srtp" => Some(ImsMode::Sdes),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ImsMode::Rtp => "RTP",
            ImsMode::Sdes => "SDES-SRTP",
        }
    }
    fn proto(self) -> &'static str {
        match self {
            ImsMode::Rtp => "RTP/AVP",
            ImsMode::Sdes => "RTP/SAVP",
        }
    }
}

/// What every call's set-up uses.
pub struct SetupCfg {
    pub run: String,
    pub ptime: u32,
    pub ims: ImsMode,
    /// Send `DTLS=passive` with the answer: the gateway waits as DTLS server, the tool is client.
    pub gw_passive: bool,
    pub inflight: usize,
    /// ICE plus DTLS, from the answer's reply to the handshake's end.
    pub handshake_timeout: Duration,
    pub stun_retransmit: Duration,
    /// ng `direction` of the offers (the gateway's interfaces for browser and IMS side).
    pub direction: Option<(String, String)>,
    pub ng: EngineCfg,
}

/// The legs of one call on the tool's side: the browser's socket and the IMS side's.
pub struct CallSocks {
    pub web: UdpSocket,
    pub ims: UdpSocket,
}

/// A call whose set-up completed: where each leg sends and the SRTP keys it uses.
pub struct Established {
    /// Index of the call in the run (its call-id).
    pub call: usize,
    /// The gateway's ICE candidate (where the browser leg sends).
    pub gw_web: SocketAddr,
    /// The gateway's address in the SDP towards IMS (where the IMS leg sends).
    pub gw_ims: SocketAddr,
    /// DTLS-SRTP keys of the browser leg (`tx` protects what it sends).
    pub web_keys: Keys,
    /// SDES keys of the IMS leg: (what it sends with, what it receives with).
    pub ims_keys: Option<(SrtpKey, SrtpKey)>,
}

/// What the set-up phase produced: the calls that are up, and the figures.
#[derive(Default)]
pub struct SetupOut {
    pub stats: SetupStats,
    /// Calls the gateway may hold state for (to delete at the end).
    pub touched: Vec<usize>,
    pub established: Vec<Established>,
    pub ng: EngineStats,
}

/// What the set-up phase measured (summed over the set-up threads).
#[derive(Clone, Default)]
pub struct SetupStats {
    pub attempted: usize,
    pub completed: usize,
    /// Failed set-ups by reason.
    pub failures: BTreeMap<String, u64>,
    /// Per completed call, ns: offer sent → handshake done, and its parts.
    pub total: Hist,
    pub signalling: Hist,
    pub ice: Hist,
    pub dtls: Hist,
    pub stun_checks: u64,
    pub dtls_retransmit_timers: u64,
    /// DTLS records the association refused (before any failure).
    pub dtls_errors: u64,
    /// Datagrams on a browser socket from elsewhere than the gateway's candidate, or of no
    /// expected kind.
    pub stray: u64,
    /// Answers whose `a=setup` gave the tool another DTLS role than asked for.
    pub role_mismatch: u64,
    /// Calls in which the tool played the DTLS client.
    pub tool_client: u64,
    /// SRTP protection profiles the handshakes negotiated, by name.
    pub suites: BTreeMap<String, u64>,
    /// Wall time from the first offer to the last call's end (the slowest thread's).
    pub wall_s: f64,
}

impl SetupStats {
    fn fail(&mut self, why: String) {
        if self.failures.len() < 32 || self.failures.contains_key(&why) {
            *self.failures.entry(why).or_insert(0) += 1;
        } else {
            *self.failures.entry("(other reasons)".into()).or_insert(0) += 1;
        }
    }

    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    fn merge(&mut self, o: SetupStats) {
        self.attempted += o.attempted;
        self.completed += o.completed;
        for (k, v) in o.failures {
            *self.failures.entry(k).or_insert(0) += v;
        }
        self.total.merge(&o.total);
        self.signalling.merge(&o.signalling);
        self.ice.merge(&o.ice);
        self.dtls.merge(&o.dtls);
        self.stun_checks += o.stun_checks;
        self.dtls_retransmit_timers += o.dtls_retransmit_timers;
        self.dtls_errors += o.dtls_errors;
        self.stray += o.stray;
        self.role_mismatch += o.role_mismatch;
        self.tool_client += o.tool_client;
        for (k, v) in o.suites {
            *self.suites.entry(k).or_insert(0) += v;
        }
        self.wall_s = self.wall_s.max(o.wall_s);
    }
}

impl SetupOut {
    fn merge(&mut self, o: SetupOut) {
        self.stats.merge(o.stats);
        self.touched.extend(o.touched);
        self.established.extend(o.established);
        let elapsed = self.ng.elapsed_s;
        self.ng.merge(&o.ng);
        self.ng.elapsed_s = elapsed.max(o.ng.elapsed_s);
    }
}

// ---------------------------------------------------------------- SDP

/// The browser's offer: one audio section with ICE, DTLS `actpass`, rtcp-mux, PCMU.
pub fn browser_offer(
    addr: SocketAddr,
    ice: &Creds,
    fingerprint: &str,
    sess_id: u64,
    ptime: u32,
) -> String {
    let (fam, ip) = match addr.ip() {
        IpAddr::V4(v4) => ("IP4", v4.to_string()),
        IpAddr::V6(v6) => ("IP6", v6.to_string()),
    };
    let port = addr.port();
    format!(
        "v=0\r\no=- {sess_id} 2 IN {fam} {ip}\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         m=audio {port} UDP/TLS/RTP/SAVPF 0\r\nc=IN {fam} {ip}\r\n\
         a=candidate:1 1 udp 2130706431 {ip} {port} typ host\r\n\
         a=ice-ufrag:{u}\r\na=ice-pwd:{p}\r\na=fingerprint:{fingerprint}\r\na=setup:actpass\r\n\
         a=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=ptime:{ptime}\r\n",
        u = ice.ufrag,
        p = ice.pwd
    )
}

/// The IMS side's answer: plain RTP, or RTP/SAVP with its `a=crypto` for the chosen tag.
pub fn ims_answer(addr: SocketAddr, crypto: Option<&Crypto>, sess_id: u64, ptime: u32) -> String {
    let plain = super::ng_client::sdp_for(addr, sess_id, ptime);
    match crypto {
        None => plain,
        Some(c) => {
            plain.replace(" RTP/AVP ", " RTP/SAVP ") + &format!("a={}\r\n", sdes::format_crypto(c))
        }
    }
}

/// Attribute values of the first audio section (session-level ones included).
fn audio_attrs(sdp: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut section = 0; // 0 session, 1 first audio, 2 past it
    for line in sdp.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix("m=") {
            section = if section == 0 && rest.starts_with("audio ") {
                1
            } else {
                2
            };
            continue;
        }
        if section == 2 {
            continue;
        }
        if let Some(a) = line.strip_prefix("a=") {
            out.push(a.split_once(':').unwrap_or((a, "")));
        }
    }
    out
}

/// The WebRTC side of the gateway's answer to the browser.
#[derive(Debug, PartialEq, Eq)]
pub struct GwWebrtc {
    /// The first UDP host candidate of component 1.
    pub candidate: SocketAddr,
    pub ice: Creds,
    pub fingerprint: Fingerprint,
    /// The gateway is DTLS client (`a=setup:active`).
    pub gw_active: bool,
}

/// Reads the gateway's answer to the browser: ICE-lite credentials and candidate, DTLS
/// fingerprint and role.
pub fn parse_gw_answer(sdp: &[u8]) -> Result<GwWebrtc, String> {
    let text = std::str::from_utf8(sdp).map_err(|_| "SDP is not UTF-8".to_string())?;
    let attrs = audio_attrs(text);
    let get = |name: &str| {
        attrs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.trim())
    };
    let ufrag = get("ice-ufrag").ok_or("answer has no a=ice-ufrag")?;
    let pwd = get("ice-pwd").ok_or("answer has no a=ice-pwd")?;
    let fp = get("fingerprint").ok_or("answer has no a=fingerprint")?;
    let fingerprint =
        parse_fingerprint(fp).ok_or_else(|| format!("unusable a=fingerprint '{fp}'"))?;
    let gw_active = match get("setup").map(|s| s.to_ascii_lowercase()) {
        Some(s) if s == "active" => true,
        Some(s) if s == "passive" => false,
        Some(s) => {
            return Err(format!(
                "answer has a=setup:{s} (active or passive expected)"
            ))
        }
        None => return Err("answer has no a=setup".into()),
    };
    let candidate = attrs
        .iter()
        .filter(|(n, _)| *n == "candidate")
        .find_map(|(_, v)| host_candidate(v))
        .ok_or("answer has no UDP host candidate for component 1")?;
    Ok(GwWebrtc {
        candidate,
        ice: Creds {
            ufrag: ufrag.to_string(),
            pwd: pwd.to_string(),
        },
        fingerprint,
        gw_active,
    })
}

/// `foundation component transport priority address port typ type ...`: the address of a
/// UDP host candidate of component 1 (an ICE-lite gateway has nothing else).
fn host_candidate(v: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() < 8
        || f[1] != "1"
        || !f[2].eq_ignore_ascii_case("udp")
        || f[6] != "typ"
        || f[7] != "host"
    {
        return None;
    }
    let ip: IpAddr = f[4].parse().ok()?;
    let port: u16 = f[5].parse().ok().filter(|&p| p != 0)?;
    Some(SocketAddr::new(ip, port))
}

/// The first `a=crypto` of the gateway's offer to IMS that eagw's SRTP speaks.
pub fn pick_crypto(sdp: &[u8]) -> Result<Crypto, String> {
    let text = std::str::from_utf8(sdp).map_err(|_| "SDP is not UTF-8".to_string())?;
    audio_attrs(text)
        .into_iter()
        .filter(|(n, _)| *n == "crypto")
        .find_map(|(_, v)| sdes::parse_crypto(v))
        .ok_or_else(|| "offer towards IMS has no usable a=crypto".to_string())
}

// ---------------------------------------------------------------- one call

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Offer,
    Answer,
    Ice,
    Dtls,
    Up,
    Failed,
}

struct Call {
    idx: usize,
    stage: Stage,
    web_addr: SocketAddr,
    ims_addr: SocketAddr,
    local_ice: Creds,
    gw_ims: Option<SocketAddr>,
    /// SDES: the gateway's key towards IMS (what the IMS leg decrypts with).
    ims_rx: Option<Crypto>,
    /// SDES: the IMS side's own key, sent in its answer.
    ims_tx: Option<Crypto>,
    gw: Option<GwWebrtc>,
    dtls: Option<Dtls>,
    keys: Option<Keys>,
    stun: Vec<u8>,
    stun_due: Instant,
    t_offer: Instant,
    t_answered: Instant,
    t_ice: Instant,
    deadline: Instant,
}

impl Call {
    fn new(idx: usize, socks: &CallSocks, now: Instant) -> Result<Call, String> {
        let addr = |s: &UdpSocket| s.local_addr().map_err(|e| format!("local address: {e}"));
        Ok(Call {
            idx,
            stage: Stage::Offer,
            web_addr: addr(&socks.web)?,
            ims_addr: addr(&socks.ims)?,
            local_ice: Creds::generate()?,
            gw_ims: None,
            ims_rx: None,
            ims_tx: None,
            gw: None,
            dtls: None,
            keys: None,
            stun: Vec::new(),
            stun_due: now,
            t_offer: now,
            t_answered: now,
            t_ice: now,
            deadline: now,
        })
    }

    fn done(&self) -> bool {
        matches!(self.stage, Stage::Up | Stage::Failed)
    }

    /// The earliest moment this call's timers want to run.
    fn next_timer(&self) -> Option<Instant> {
        match self.stage {
            Stage::Ice => Some(self.stun_due.min(self.deadline)),
            Stage::Dtls => Some(
                self.dtls
                    .as_ref()
                    .and_then(|d| d.next_timeout())
                    .map_or(self.deadline, |t| t.min(self.deadline)),
            ),
            _ => None,
        }
    }
}

fn keys_of(run: &str, call: usize) -> (String, String, String) {
    super::call_keys(run, call)
}

fn offer_request(cfg: &SetupCfg, c: &Call, fingerprint: &str) -> Value {
    let (cid, ft, _) = keys_of(&cfg.run, c.idx);
    let sdp = browser_offer(
        c.web_addr,
        &c.local_ice,
        fingerprint,
        c.idx as u64 + 1,
        cfg.ptime,
    );
    let mut items = vec![
        ("command", s("offer")),
        ("call-id", s(&cid)),
        ("from-tag", s(&ft)),
        ("sdp", s(&sdp)),
        ("ICE", s("remove")),
        ("DTLS", s("off")),
        ("transport-protocol", s(cfg.ims.proto())),
        ("rtcp-mux", list(&["demux"])),
        ("replace", list(&["origin", "session-connection"])),
        ("supports", list(&["load limit"])),
    ];
    if cfg.ims == ImsMode::Rtp {
        items.push(("SDES", list(&["off"])));
    }
    if let Some(d) = &cfg.direction {
        items.push(("direction", super::direction_value(d)));
    }
    dict(items)
}

fn answer_request(cfg: &SetupCfg, c: &Call) -> Value {
    let (cid, ft, tt) = keys_of(&cfg.run, c.idx);
    let sdp = ims_answer(
        c.ims_addr,
        c.ims_tx.as_ref(),
        c.idx as u64 + 100_001,
        cfg.ptime,
    );
    let mut items = vec![
        ("command", s("answer")),
        ("call-id", s(&cid)),
        ("from-tag", s(&ft)),
        ("to-tag", s(&tt)),
        ("sdp", s(&sdp)),
        ("ICE", s("force")),
        ("transport-protocol", s("UDP/TLS/RTP/SAVPF")),
        ("rtcp-mux", list(&["require"])),
        ("replace", list(&["origin", "session-connection"])),
        ("supports", list(&["load limit"])),
    ];
    if cfg.gw_passive {
        items.push(("DTLS", s("passive")));
    }
    dict(items)
}

fn sdp_of(v: &Value) -> Result<&[u8], String> {
    dget(v, "sdp")
        .and_then(vbytes)
        .ok_or_else(|| "reply has no sdp".to_string())
}

/// Only loopback or the ng host: the tool never sends elsewhere.
fn allowed(a: SocketAddr, ng_ip: IpAddr) -> Result<SocketAddr, String> {
    if a.ip().is_loopback() || a.ip() == ng_ip {
        Ok(a)
    } else {
        Err(format!(
            "gateway address {a} is neither loopback nor the ng host"
        ))
    }
}

/// An ng request's outcome, kept until the client's borrow ends.
enum Got {
    Ok(Value),
    /// No reply after all tries: the request may still have reached the gateway.
    NoReply,
    /// An error, load limit or bad reply: the gateway holds no state for it.
    Failed(String),
}

/// The set-up engine of one thread: calls `socks[i]` are calls `first + i` of the run.
pub fn run_setup(
    cfg: &SetupCfg,
    ng: SocketAddr,
    identity: &Identity,
    socks: &[CallSocks],
    first: usize,
) -> Result<SetupOut, String> {
    let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
    let crypto = provider.crypto();
    let ng_ip = ng.ip();
    let mut client = NgClient::new(
        ng,
        super::loopback_like(&ng),
        &format!("{}s{first}", cfg.run),
    )
    .map_err(|e| format!("ng socket: {e}"))?;
    let ep = sys::Epoll::new().map_err(|e| format!("epoll: {e}"))?;
    const NG: u64 = u64::MAX;
    ep.add(client.fd(), NG).map_err(|e| format!("epoll: {e}"))?;
    for (i, s) in socks.iter().enumerate() {
        ep.add(s.web.as_raw_fd(), i as u64)
            .map_err(|e| format!("epoll: {e}"))?;
    }
    let mut out = SetupOut::default();
    out.stats.attempted = socks.len();
    let start = Instant::now();
    let mut calls: Vec<Call> = Vec::with_capacity(socks.len());
    let mut active: Vec<usize> = Vec::with_capacity(cfg.inflight);
    let mut touched = vec![false; socks.len()];
    let mut got: Vec<(usize, Cmd, Got)> = Vec::new();
    let mut events = sys::empty_events(256);
    let mut buf = vec![0u8; 4096];
    let window = cfg.inflight.max(1);
    // Each call is bounded (ng tries, handshake timeout); this only guards against a bug.
    let ng_bound = cfg.ng.retransmit * cfg.ng.tries * 2;
    let per_call = ng_bound + cfg.handshake_timeout + Duration::from_secs(1);
    let hard_end =
        start + per_call * (socks.len().div_ceil(window) as u32 + 1) + Duration::from_secs(30);

    loop {
        let now = Instant::now();
        // Admit new calls while the window has room.
        while active.len() < window && calls.len() < socks.len() {
            let i = calls.len();
            let mut c = Call::new(first + i, &socks[i], now)?;
            c.t_offer = Instant::now();
            let req = offer_request(cfg, &c, &identity.fingerprint);
            client.submit(i, Cmd::Offer, &req, &cfg.ng, &mut out.ng);
            calls.push(c);
            active.push(i);
        }

        // ng: retransmissions, timeouts, replies.
        client.expire(Instant::now(), &cfg.ng, &mut out.ng, &mut |i, cmd, o| {
            got.push((i, cmd, outcome(o)))
        });
        for (i, cmd, g) in got.drain(..) {
            let c = &mut calls[i];
            match (cmd, g) {
                (Cmd::Offer, g) => {
                    let v = match g {
                        Got::Ok(v) => v,
                        Got::NoReply => {
                            touched[i] = true; // it may have arrived
                            c.stage = Stage::Failed;
                            out.stats.fail("offer: no reply".into());
                            continue;
                        }
                        Got::Failed(e) => {
                            c.stage = Stage::Failed;
                            out.stats.fail(format!("offer: {e}"));
                            continue;
                        }
                    };
                    touched[i] = true;
                    let ims = sdp_of(&v).and_then(|sdp| {
                        let addr = super::ng_client::sdp_audio_addr(sdp)?;
                        let crypto = match cfg.ims {
                            ImsMode::Rtp => None,
                            ImsMode::Sdes => Some(pick_crypto(sdp)?),
                        };
                        Ok((allowed(addr, ng_ip)?, crypto))
                    });
                    match ims {
                        Ok((addr, crypto)) => {
                            c.gw_ims = Some(addr);
                            if let Some(k) = crypto {
                                let mine = SrtpKey::generate(k.key.suite)?;
                                c.ims_tx = Some(Crypto {
                                    tag: k.tag,
                                    key: mine,
                                });
                                c.ims_rx = Some(k);
                            }
                            c.stage = Stage::Answer;
                            let req = answer_request(cfg, c);
                            client.submit(i, Cmd::Answer, &req, &cfg.ng, &mut out.ng);
                        }
                        Err(e) => {
                            c.stage = Stage::Failed;
                            out.stats.fail(format!("offer reply: {e}"));
                        }
                    }
                }
                (Cmd::Answer, Got::Ok(v)) => {
                    let now = Instant::now();
                    c.t_answered = now;
                    let gw = sdp_of(&v).and_then(parse_gw_answer).and_then(|g| {
                        allowed(g.candidate, ng_ip)?;
                        Ok(g)
                    });
                    let gw = match gw {
                        Ok(g) => g,
                        Err(e) => {
                            c.stage = Stage::Failed;
                            out.stats.fail(format!("answer reply: {e}"));
                            continue;
                        }
                    };
                    // The gateway's a=setup decides; --dtls passive only asks for it.
                    if gw.gw_active == cfg.gw_passive {
                        out.stats.role_mismatch += 1;
                    }
                    let tool_client = !gw.gw_active;
                    match Dtls::new(identity, tool_client, &gw.fingerprint) {
                        Ok(d) => c.dtls = Some(d),
                        Err(e) => {
                            c.stage = Stage::Failed;
                            out.stats.fail(format!("DTLS: {e}"));
                            continue;
                        }
                    }
                    if tool_client {
                        out.stats.tool_client += 1;
                    }
                    let user = format!("{}:{}", gw.ice.ufrag, c.local_ice.ufrag);
                    c.stun = ice::binding_request(&user, &gw.ice.pwd, true, crypto);
                    let _ = socks[i].web.send_to(&c.stun, gw.candidate);
                    out.stats.stun_checks += 1;
                    c.stun_due = now + cfg.stun_retransmit;
                    c.deadline = now + cfg.handshake_timeout;
                    c.gw = Some(gw);
                    c.stage = Stage::Ice;
                }
                (Cmd::Answer, Got::NoReply) => {
                    c.stage = Stage::Failed;
                    out.stats.fail("answer: no reply".into());
                }
                (Cmd::Answer, Got::Failed(e)) => {
                    c.stage = Stage::Failed;
                    out.stats.fail(format!("answer: {e}"));
                }
                (Cmd::Delete, _) => {}
            }
        }

        // Per-call timers: ICE check retransmissions, DTLS retransmissions, the deadline.
        let now = Instant::now();
        for &i in &active {
            let c = &mut calls[i];
            let Some(due) = c.next_timer() else { continue };
            if due > now {
                continue;
            }
            if now >= c.deadline {
                let what = if c.stage == Stage::Ice {
                    "ICE: no authenticated success response"
                } else {
                    "DTLS: handshake not complete"
                };
                out.stats.fail(format!(
                    "{what} within {:.1} s",
                    cfg.handshake_timeout.as_secs_f64()
                ));
                c.stage = Stage::Failed;
                continue;
            }
            let gw = c.gw.as_ref().expect("set with the answer").candidate;
            match c.stage {
                Stage::Ice if now >= c.stun_due => {
                    // The same check again (a new transaction is not needed for the lite side).
                    let _ = socks[i].web.send_to(&c.stun, gw);
                    out.stats.stun_checks += 1;
                    c.stun_due = now + cfg.stun_retransmit;
                }
                Stage::Dtls => {
                    if let Some(d) = c.dtls.as_mut() {
                        d.on_timeout(now);
                        out.stats.dtls_retransmit_timers += 1;
                        flush(d, &socks[i].web, gw);
                    }
                }
                _ => {}
            }
        }
        // Calls that are up keep their association (and socket in the epoll): a retransmitted
        // last flight of the gateway still gets its answer.
        active.retain(|&i| !calls[i].done());
        if active.is_empty() && calls.len() >= socks.len() && client.in_flight() == 0 {
            break;
        }
        if now >= hard_end {
            for &i in &active {
                calls[i].stage = Stage::Failed;
                out.stats.fail("set-up engine ran out of time".into());
            }
            active.clear();
            break;
        }

        // Wait for datagrams until the next timer.
        let mut until = now + Duration::from_millis(50);
        if let Some(d) = client.next_deadline() {
            until = until.min(d);
        }
        for &i in &active {
            if let Some(t) = calls[i].next_timer() {
                until = until.min(t);
            }
        }
        let wait = until.saturating_duration_since(Instant::now());
        let wait_ms = wait.as_micros().div_ceil(1000).min(50) as i32;
        let n = ep.wait(&mut events, wait_ms);
        for ev in &events[..n] {
            let token = { ev.u64 };
            if token == NG {
                client.drain(&mut out.ng, &mut |i, cmd, o| got.push((i, cmd, outcome(o))));
                continue;
            }
            let i = token as usize;
            for _ in 0..16 {
                let Ok((len, from)) = socks[i].web.recv_from(&mut buf) else {
                    break;
                };
                let Some(c) = calls.get_mut(i) else {
                    out.stats.stray += 1;
                    continue;
                };
                on_web(c, &buf[..len], from, &socks[i].web, crypto, &mut out.stats);
            }
        }
    }

    // Results.
    for (i, c) in calls.iter_mut().enumerate() {
        if touched[i] {
            out.touched.push(c.idx);
        }
        if c.stage != Stage::Up {
            continue;
        }
        let (Some(keys), Some(gw), Some(gw_ims)) = (c.keys.take(), c.gw.as_ref(), c.gw_ims) else {
            continue;
        };
        out.established.push(Established {
            call: c.idx,
            gw_web: gw.candidate,
            gw_ims,
            web_keys: keys,
            ims_keys: match (c.ims_tx.take(), c.ims_rx.take()) {
                (Some(tx), Some(rx)) => Some((tx.key, rx.key)),
                _ => None,
            },
        });
    }
    out.stats.completed = out.established.len();
    out.stats.wall_s = start.elapsed().as_secs_f64();
    out.ng.elapsed_s = out.stats.wall_s;
    Ok(out)
}

fn outcome(o: Outcome<'_>) -> Got {
    match o {
        Outcome::Ok(v) => Got::Ok(v.clone()),
        Outcome::Error(e) => Got::Failed(format!("error: {e}")),
        Outcome::LoadLimit(m) => Got::Failed(format!("load limit: {m}")),
        Outcome::Timeout => Got::NoReply,
        Outcome::Bad(e) => Got::Failed(e),
    }
}

/// Sends what the association has queued.
fn flush(d: &mut Dtls, sock: &UdpSocket, to: SocketAddr) {
    while let Some(p) = d.poll_transmit() {
        let _ = sock.send_to(&p, to);
    }
}

/// One datagram on a browser socket (RFC 7983 demux): the ICE check's response, or DTLS.
fn on_web(
    c: &mut Call,
    pkt: &[u8],
    from: SocketAddr,
    sock: &UdpSocket,
    crypto: &dyn rtc_crypto::RTCCrypto,
    out: &mut SetupStats,
) {
    let Some(gw) = c.gw.as_ref() else {
        out.stray += 1;
        return;
    };
    if from != gw.candidate || pkt.is_empty() {
        out.stray += 1;
        return;
    }
    let to = gw.candidate;
    let now = Instant::now();
    match pkt[0] {
        0..=3 => {
            if c.stage != Stage::Ice {
                return; // a response to a retransmitted check
            }
            if !ice::is_success_for(pkt, &gw.ice.pwd, crypto) {
                out.stray += 1;
                return;
            }
            c.t_ice = now;
            c.stage = Stage::Dtls;
            if let Some(d) = c.dtls.as_mut() {
                if d.client {
                    d.start(now);
                    flush(d, sock, to);
                }
            }
        }
        20..=63 => {
            let Some(d) = c.dtls.as_mut() else {
                out.stray += 1;
                return;
            };
            // The gateway starts as client as soon as it is nominated: its ClientHello may
            // overtake our handling of the check's response, so DTLS is taken in Ice too.
            let res = d.on_packet(pkt, now);
            flush(d, sock, to);
            match res {
                Ok(Some(keys)) => {
                    if c.stage == Stage::Ice {
                        c.t_ice = now;
                    }
                    if !c.done() {
                        out.total.add(ns(now - c.t_offer));
                        out.signalling.add(ns(c.t_answered - c.t_offer));
                        out.ice.add(ns(c.t_ice - c.t_answered));
                        out.dtls.add(ns(now - c.t_ice));
                        *out.suites
                            .entry(keys.rx.suite.name().to_string())
                            .or_insert(0) += 1;
                        c.keys = Some(keys);
                        c.stage = Stage::Up;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    if matches!(d.state, crate::transport::dtls::State::Failed(_)) && !c.done() {
                        c.stage = Stage::Failed;
                        out.fail(e);
                    } else {
                        out.dtls_errors += 1;
                    }
                }
            }
        }
        _ => out.stray += 1, // media before the handshake ended
    }
}

fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

/// Runs the set-up of `socks` (call `i` = `socks[i]`) on `threads` threads, each with its
/// own ng socket, epoll and share of the window.
pub fn setup_threads(
    cfg: &SetupCfg,
    ng: SocketAddr,
    identity: &Arc<Identity>,
    socks: &[CallSocks],
    threads: usize,
) -> Result<SetupOut, String> {
    let threads = threads.clamp(1, socks.len().max(1));
    let chunk = socks.len().div_ceil(threads);
    let per = SetupCfg {
        run: cfg.run.clone(),
        ptime: cfg.ptime,
        ims: cfg.ims,
        gw_passive: cfg.gw_passive,
        inflight: cfg.inflight.div_ceil(threads),
        handshake_timeout: cfg.handshake_timeout,
        stun_retransmit: cfg.stun_retransmit,
        direction: cfg.direction.clone(),
        ng: EngineCfg { ..cfg.ng },
    };
    let results: Vec<Result<SetupOut, String>> = std::thread::scope(|sc| {
        let handles: Vec<_> = socks
            .chunks(chunk)
            .enumerate()
            .map(|(t, part)| {
                let per = &per;
                let id = identity.as_ref();
                std::thread::Builder::new()
                    .name(format!("load-setup-{t}"))
                    .spawn_scoped(sc, move || run_setup(per, ng, id, part, t * chunk))
                    .expect("spawn set-up thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("set-up thread panicked".into()))
            })
            .collect()
    });
    let mut all = SetupOut::default();
    for r in results {
        all.merge(r?);
    }
    all.established.sort_by_key(|e| e.call);
    all.touched.sort_unstable();
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const GW_ANSWER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n\
        m=audio 50010 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\na=rtpmap:0 PCMU/8000\r\n\
        a=sendrecv\r\na=rtcp-mux\r\na=setup:active\r\n\
        a=fingerprint:sha-256 5C:1F:2E:4A:9B:0D:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA\r\n\
        a=tls-id:abc\r\na=ice-ufrag:gwUf\r\na=ice-pwd:gatewaypassword012345678\r\n\
        a=candidate:2 1 UDP 2130706431 ::1 50012 typ host\r\n\
        a=candidate:1 2 UDP 2130706430 127.0.0.1 50011 typ host\r\n\
        a=candidate:1 1 UDP 2130706431 127.0.0.1 50010 typ host\r\n";

    /// How the fake gateway behaves on its media socket.
    #[derive(Clone, Copy, PartialEq)]
    enum Fake {
        /// ICE-lite and DTLS client, as eagw does by default.
        Full,
        /// ICE-lite and DTLS server (`a=setup:passive`), as eagw with `DTLS=passive`.
        Server,
        /// Answers ICE checks, never starts DTLS.
        NoDtls,
        /// Ignores everything on the media socket.
        Silent,
    }

    /// A gateway stand-in on loopback: answers ng offer/answer/delete with fixed SDPs and
    /// plays eagw's WebRTC side (ICE-lite responder, DTLS client) on one media socket, for
    /// at most `run_for` or until `stop` is set.
    fn fake_gateway(
        mode: Fake,
        run_for: Duration,
        stop: Arc<std::sync::atomic::AtomicBool>,
    ) -> (SocketAddr, std::thread::JoinHandle<u32>) {
        use crate::control::bencode::{self, DictBuilder};
        use crate::transport::ice::{IceLite, Outcome};
        let ng = UdpSocket::bind("127.0.0.1:0").unwrap();
        let media = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&ng, &media] {
            s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        }
        let ng_addr = ng.local_addr().unwrap();
        let cand = media.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let provider = rtc_crypto::default_provider().unwrap();
            let id = Identity::generate().unwrap();
            let creds = Creds {
                ufrag: "fake".into(),
                pwd: "fakegatewaypassword01234".into(),
            };
            let mut ice = IceLite::new(creds.clone());
            let mut tool_fp: Option<Fingerprint> = None;
            let mut dtls: Vec<(SocketAddr, Dtls)> = Vec::new();
            let mut handshakes = 0;
            let end = Instant::now() + run_for;
            let mut buf = vec![0u8; 65536];
            while Instant::now() < end && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((n, from)) = ng.recv_from(&mut buf) {
                    let sp = buf[..n].iter().position(|&b| b == b' ').unwrap();
                    let req = bencode::decode_all(&buf[sp + 1..n]).unwrap();
                    let cmd = req
                        .get("command")
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_string();
                    let sdp = req
                        .get("sdp")
                        .and_then(Value::as_bytes)
                        .map(|b| String::from_utf8_lossy(b).to_string());
                    let mut reply = DictBuilder::new().str("result", "ok");
                    if cmd == "offer" {
                        let sdp = sdp.unwrap();
                        let fp = audio_attrs(&sdp)
                            .into_iter()
                            .find(|(n, _)| *n == "fingerprint")
                            .unwrap()
                            .1;
                        tool_fp = parse_fingerprint(fp);
                        reply = reply.str(
                            "sdp",
                            super::super::ng_client::sdp_for(sa("127.0.0.1:9"), 1, 20),
                        );
                    } else if cmd == "answer" {
                        reply = reply.str(
                            "sdp",
                            format!(
                                "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\nm=audio {port} UDP/TLS/RTP/SAVPF 0\r\n\
                                 c=IN IP4 127.0.0.1\r\na=setup:{setup}\r\na=fingerprint:{fp}\r\na=ice-ufrag:{u}\r\na=ice-pwd:{p}\r\n\
                                 a=candidate:{cand}\r\na=rtcp-mux\r\n",
                                port = cand.port(),
                                setup = if mode == Fake::Server { "passive" } else { "active" },
                                fp = id.fingerprint,
                                u = creds.ufrag,
                                p = creds.pwd,
                                cand = &ice::host_candidate(1, cand)["candidate:".len()..]
                            ),
                        );
                    }
                    let mut out = buf[..sp + 1].to_vec();
                    bencode::encode(&reply.build(), &mut out);
                    ng.send_to(&out, from).unwrap();
                }
                let now = Instant::now();
                if let Ok((n, from)) = media.recv_from(&mut buf) {
                    match (mode, buf[0]) {
                        (Fake::Silent, _) => {}
                        (_, 0..=3) => {
                            if let Outcome::Answer { reply, nominated } =
                                ice.on_stun(&buf[..n], from, 1, provider.crypto())
                            {
                                media.send_to(&reply, from).unwrap();
                                if nominated && mode != Fake::NoDtls {
                                    let client = mode == Fake::Full;
                                    let mut d =
                                        Dtls::new(&id, client, tool_fp.as_ref().unwrap()).unwrap();
                                    d.start(now); // a server waits for the ClientHello
                                    flush(&mut d, &media, from);
                                    dtls.push((from, d));
                                }
                            }
                        }
                        (_, 20..=63) => {
                            if let Some((_, d)) = dtls.iter_mut().find(|(a, _)| *a == from) {
                                if let Ok(Some(_)) = d.on_packet(&buf[..n], now) {
                                    handshakes += 1;
                                }
                                flush(d, &media, from);
                            }
                        }
                        _ => {}
                    }
                }
                for (a, d) in dtls.iter_mut() {
                    if d.next_timeout().is_some_and(|t| t <= now) {
                        d.on_timeout(now);
                        flush(d, &media, *a);
                    }
                }
            }
            handshakes
        });
        (ng_addr, h)
    }

    /// Sets up `calls` calls against a fake gateway; the handshake timeout is short where it
    /// is meant to expire and generous where a busy test host must not make it expire.
    fn setup_against(mode: Fake, calls: usize) -> (SetupOut, u32, Duration) {
        let handshake_timeout = match mode {
            Fake::Full | Fake::Server => Duration::from_secs(3),
            Fake::NoDtls | Fake::Silent => Duration::from_millis(400),
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ng, fake) = fake_gateway(mode, Duration::from_secs(10), stop.clone());
        let cfg = SetupCfg {
            run: "unit".into(),
            ptime: 20,
            ims: ImsMode::Rtp,
            gw_passive: false,
            inflight: 2,
            handshake_timeout,
            stun_retransmit: Duration::from_millis(100),
            direction: None,
            ng: EngineCfg {
                inflight: 4,
                retransmit: Duration::from_millis(200),
                tries: 3,
                admit_interval: Duration::ZERO,
            },
        };
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let socks: Vec<CallSocks> = (0..calls)
            .map(|_| CallSocks {
                web: sys::bind_udp(ip, 1 << 16).unwrap().0,
                ims: sys::bind_udp(ip, 1 << 16).unwrap().0,
            })
            .collect();
        let t0 = Instant::now();
        let out = setup_threads(
            &cfg,
            ng,
            &Arc::new(Identity::generate().unwrap()),
            &socks,
            1,
        )
        .unwrap();
        let took = t0.elapsed();
        // the tool is done when it sent its last flight; give the fake time to take it
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        (out, fake.join().unwrap(), took)
    }

    #[test]
    fn sets_up_calls_against_an_ice_lite_dtls_client() {
        let (out, handshakes, _) = setup_against(Fake::Full, 3);
        assert_eq!(
            (out.stats.completed, out.stats.failed(), handshakes),
            (3, 0, 3),
            "{:?}",
            out.stats.failures
        );
        assert_eq!(out.touched, vec![0, 1, 2]);
        assert_eq!(out.ng.cmd(Cmd::Offer).ok + out.ng.cmd(Cmd::Answer).ok, 6);
        assert_eq!(
            (
                out.stats.total.n,
                out.stats.stun_checks,
                out.stats.tool_client
            ),
            (3, 3, 0)
        );
        assert_eq!(out.stats.suites.values().sum::<u64>(), 3);
        for e in &out.established {
            assert_eq!(e.gw_ims, sa("127.0.0.1:9"));
            assert!(e.ims_keys.is_none());
            assert_ne!(e.web_keys.tx, e.web_keys.rx);
        }
    }

    #[test]
    fn plays_the_dtls_client_when_the_gateway_answers_passive() {
        let (out, handshakes, _) = setup_against(Fake::Server, 2);
        assert_eq!(
            (out.stats.completed, out.stats.failed(), handshakes),
            (2, 0, 2),
            "{:?}",
            out.stats.failures
        );
        assert_eq!(out.stats.tool_client, 2);
        assert_eq!(
            out.stats.role_mismatch, 2,
            "passive without --dtls passive is noted"
        );
    }

    #[test]
    fn a_handshake_that_never_ends_is_counted_not_waited_for() {
        let (out, _, took) = setup_against(Fake::NoDtls, 2);
        assert_eq!((out.stats.completed, out.stats.failed()), (0, 2));
        assert!(
            out.stats
                .failures
                .keys()
                .all(|k| k.starts_with("DTLS: handshake not complete")),
            "{:?}",
            out.stats.failures
        );
        assert_eq!(out.touched.len(), 2, "the calls are still deleted");
        assert!(took < Duration::from_secs(2), "{took:?}");
        let (out, _, took) = setup_against(Fake::Silent, 2);
        assert_eq!((out.stats.completed, out.stats.failed()), (0, 2));
        assert!(
            out.stats
                .failures
                .keys()
                .all(|k| k.starts_with("ICE: no authenticated success")),
            "{:?}",
            out.stats.failures
        );
        assert!(out.stats.stun_checks >= 4, "checks are retransmitted");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn reads_the_gateways_answer() {
        let g = parse_gw_answer(GW_ANSWER.as_bytes()).unwrap();
        // the first component-1 UDP candidate, whatever its family
        assert_eq!(g.candidate, sa("[::1]:50012"));
        assert_eq!(
            g.ice,
            Creds {
                ufrag: "gwUf".into(),
                pwd: "gatewaypassword012345678".into()
            }
        );
        assert_eq!(g.fingerprint.digest.len(), 32);
        assert!(g.gw_active);
        let v4_only =
            GW_ANSWER.replace("a=candidate:2 1 UDP 2130706431 ::1 50012 typ host\r\n", "");
        assert_eq!(
            parse_gw_answer(v4_only.as_bytes()).unwrap().candidate,
            sa("127.0.0.1:50010")
        );
        let passive = GW_ANSWER.replace("setup:active", "setup:passive");
        assert!(!parse_gw_answer(passive.as_bytes()).unwrap().gw_active);
    }

    #[test]
    fn unusable_answers_say_why() {
        for (from, to, why) in [
            ("a=ice-ufrag:gwUf\r\n", "", "ice-ufrag"),
            ("a=ice-pwd:gatewaypassword012345678\r\n", "", "ice-pwd"),
            ("a=setup:active", "a=setup:actpass", "setup"),
            ("a=setup:active\r\n", "", "setup"),
            ("sha-256 5C", "sha-1 5C", "fingerprint"),
            ("typ host", "typ relay", "candidate"),
        ] {
            let sdp = GW_ANSWER.replace(from, to);
            let e = parse_gw_answer(sdp.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{why}: {e}");
        }
        // attributes of a second m= section do not count
        let moved = GW_ANSWER
            .replace("a=ice-lite\r\n", "")
            .replace("a=ice-ufrag:gwUf\r\n", "")
            + "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:gwUf\r\n";
        assert!(parse_gw_answer(moved.as_bytes()).is_err());
        // session-level credentials count
        let session = GW_ANSWER
            .replace("a=ice-ufrag:gwUf\r\n", "")
            .replace("a=ice-lite\r\n", "a=ice-ufrag:gwUf\r\n");
        assert_eq!(
            parse_gw_answer(session.as_bytes()).unwrap().ice.ufrag,
            "gwUf"
        );
    }

    #[test]
    fn candidates() {
        assert_eq!(
            host_candidate("1 1 udp 2130706431 127.0.0.1 5000 typ host"),
            Some(sa("127.0.0.1:5000"))
        );
        assert_eq!(
            host_candidate("1 1 UDP 1 127.0.0.1 5000 typ host generation 0"),
            Some(sa("127.0.0.1:5000"))
        );
        assert_eq!(host_candidate("1 2 udp 1 127.0.0.1 5001 typ host"), None);
        assert_eq!(
            host_candidate("1 1 tcp 1 127.0.0.1 9 typ host tcptype active"),
            None
        );
        assert_eq!(host_candidate("1 1 udp 1 127.0.0.1 0 typ host"), None);
        assert_eq!(host_candidate("1 1 udp 1 nonsense 5000 typ host"), None);
        assert_eq!(
            host_candidate("1 1 udp 1 127.0.0.1 5000 typ srflx raddr 0.0.0.0 rport 0"),
            None
        );
        assert_eq!(host_candidate("1 1 udp"), None);
    }

    #[test]
    fn picks_a_crypto_suite_and_answers_with_its_tag() {
        let offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
            m=audio 50020 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
            a=crypto:1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n\
            a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";
        let c = pick_crypto(offer.as_bytes()).unwrap();
        assert_eq!((c.tag, c.key.suite), (2, sdes::Suite::AesCm128HmacSha1_32));
        assert!(pick_crypto(b"v=0\r\nm=audio 5 RTP/AVP 0\r\n").is_err());
        let mine = Crypto {
            tag: 2,
            key: SrtpKey::generate(c.key.suite).unwrap(),
        };
        let a = ims_answer(sa("127.0.0.1:7000"), Some(&mine), 9, 20);
        assert!(a.contains("m=audio 7000 RTP/SAVP 0\r\n"), "{a}");
        assert_eq!(pick_crypto(a.as_bytes()).unwrap(), mine);
        let plain = ims_answer(sa("127.0.0.1:7000"), None, 9, 20);
        assert!(plain.contains("RTP/AVP") && !plain.contains("crypto"));
    }

    #[test]
    fn browser_offer_is_what_the_gateway_expects() {
        let ice = Creds {
            ufrag: "brws".into(),
            pwd: "browserpassword012345678".into(),
        };
        let fp = "sha-256 5C:1F:2E:4A:9B:0D:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA";
        let o = browser_offer(sa("127.0.0.1:6000"), &ice, fp, 3, 20);
        let sdp = crate::sdp::parse(&o).unwrap();
        let m = &sdp.media[0];
        assert_eq!((m.port, m.proto.as_str()), (6000, "UDP/TLS/RTP/SAVPF"));
        assert_eq!(m.attr("ice-ufrag"), Some("brws"));
        assert_eq!(m.attr("ice-pwd"), Some("browserpassword012345678"));
        assert_eq!(m.attr("setup"), Some("actpass"));
        assert!(m.has_attr("rtcp-mux"));
        assert_eq!(
            parse_fingerprint(m.attr("fingerprint").unwrap())
                .unwrap()
                .digest
                .len(),
            32
        );
        assert_eq!(
            host_candidate(m.attr("candidate").unwrap()),
            Some(sa("127.0.0.1:6000"))
        );
    }

    #[test]
    fn ims_modes() {
        assert_eq!(ImsMode::parse("sdes"), Some(ImsMode::Sdes));
        assert_eq!(ImsMode::parse("RTP"), Some(ImsMode::Rtp));
        assert_eq!(ImsMode::parse("zrtp"), None);
        assert_eq!(ImsMode::Sdes.proto(), "RTP/SAVP");
    }
}
