//! `eagw load`: load generator and sizing tool for any ng-driven media gateway (eagw, rtpengine)
//! and for the floor, an in-process bare relay.
//!
//! Modes: `calls` (ng set-up + bidirectional RTP + teardown), `webrtc` (the same with a fake
//! browser on the caller's side: ICE, DTLS-SRTP, SRTP media), `bare` (the same media through a
//! bare recvfrom/sendto relay), `compare` (bare, then one or two gateways, in one table) and
//! `ng-rate` (control-plane throughput). Only the ng protocol, STUN, DTLS and (S)RTP are used,
//! only loopback addresses are bound, and every phase is bounded by counts, durations and
//! timeouts.

pub mod bare;
pub mod media;
pub mod ng_client;
pub mod report;
pub mod sys;
pub mod transcode;
pub mod webrtc;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use crate::control::bencode::Value;
use crate::transport::dtls::Identity;
use crate::transport::srtp::Srtp;

use media::{Leg, LegSrtp, MediaCfg, Phase};
use ng_client::{
    dget, dict, list, s, vbytes, Cmd, Driver, EngineCfg, EngineStats, NgClient, Outcome,
};
use report::{CpuFig, LoadReport, RateReport, SetupFig};
use webrtc::{CallSocks, ImsMode, SetupCfg};

const HELP: &str = "\
eagw load — load generator for ng-driven media gateways (eagw, rtpengine) and a bare-relay floor

USAGE:
  eagw load calls   --ng ADDR [--pid PID] [--calls N] [--duration S] [--ptime MS] [--ramp S]
                    [--direction A,B] [--json]
  eagw load webrtc  --ng ADDR [--pid PID] [--calls N] [--duration S] [--inflight W] [--ims rtp|sdes]
                    [--dtls passive] [--setup-only] [--setup-threads T] [--handshake-timeout S]
                    [--direction A,B] [--json]
  eagw load bare    [--calls N] [--duration S] [--threads T] [--ptime MS] [--json]
  eagw load compare --ng ADDR --pid PID [--ng2 ADDR --pid2 PID] [--webrtc [--ims sdes] [--rounds R]] [--calls N]
                    [--duration S] [--threads T] [--json]
  eagw load ng-rate --ng ADDR [--calls N] [--inflight W] [--json]
  eagw load transcode --ng ADDR [--pid PID] [--calls N] [--duration S] [--codec amrwb|pcma] [--json]

MODES:
  calls    Set up N calls over ng/UDP (offer/answer, PCMU), send 50 packets/s each way per call
           (ptime 20), measure loss, duplicates, reordering, jitter and one-way delay, sample the
           gateway's CPU (--pid) over the media phase, then delete every call.
  webrtc   Calls whose caller is a fake browser and whose callee an IMS peer: per call the
           browser's offer (ICE, DTLS actpass, rtcp-mux) goes over ng with ICE=remove DTLS=off
           transport-protocol=RTP/AVP (RTP/SAVP with --ims sdes) rtcp-mux=[demux], the IMS
           side answers (rtcp-mux=[require]), then the browser does one ICE check with
           USE-CANDIDATE (the success response must authenticate) and the DTLS handshake against
           the gateway's a=fingerprint (as server; as client with --dtls passive). Reports
           set-ups/s at --inflight calls in set-up, the gateway's CPU per set-up and the tool's
           own; then the media phase as in calls, SRTP on the browser leg (and on the IMS leg
           with --ims sdes), with the gateway's CPU per packet.
  bare     The floor: the same media through an in-process bare relay (--threads threads, each
           with its own epoll; one recvfrom + one sendto per packet). Its CPU is its threads' own.
  compare  bare, then calls against --ng (and --ng2), in one table with the CPU ratio to bare;
           with --webrtc also webrtc calls against --ng, and the gateway's extra CPU per packet
           for the SRTP <-> RTP path over the plain calls of the same run.
  ng-rate  Control-plane throughput: offer+answer+delete per call, no media; calls/s and
           per-command latency.
  transcode  Opus <-> AMR-WB (or PCMA) calls through the gateway's transcoder with real
           frames both ways; gateway CPU, calls per core, and eagw's late / concealed frames
           (`eagw load transcode --help`).

OPTIONS:
  --ng ADDR         ng control address of the gateway (loopback only), e.g. 127.0.0.1:2223
  --ng2 ADDR        second gateway for compare (e.g. rtpengine)
  --pid PID         gateway process whose CPU (/proc/PID/stat; over a webrtc set-up phase the
                    ns-resolution sum of /proc/PID/task/*/schedstat) is measured; --pid2 for --ng2
  --name NAME       label of --ng in reports (default: the address); --name2 for --ng2
  --calls N         calls (default 500; ng-rate: 20000)
  --duration S      media seconds (default 20)
  --ptime MS        packet time, 10..=100 ms (default 20: 160-byte PCMU payload)
  --ramp S          spread call set-ups over S seconds (default 2)
  --threads T       bare relay threads (default 2)
  --inflight W      ng requests in flight; webrtc: calls in set-up at once (default 64)
  --ims MODE        webrtc: the IMS side's media, rtp (default) or sdes (SDES-SRTP)
  --dtls passive    webrtc: send DTLS=passive with the answer (the gateway is DTLS server,
                    the tool client); default: no flag (the gateway is client)
  --setup-only      webrtc: set up and delete the calls, no media phase
  --setup-threads T webrtc: set-up threads, each with its own ng socket (default 1)
  --handshake-timeout S  webrtc: ICE + DTLS per call (default 10); a call over it fails
  --webrtc          compare: add a webrtc run against --ng
  --rounds R        compare --webrtc: R rounds of plain and webrtc runs in ABBA order,
                    pooled (default 1)
  --direction A,B   calls, webrtc: send direction=[A, B] with each offer (the gateway's
                    interfaces for the offerer's and the answerer's side)
  --drain MS        keep receiving this long after the last send (default 500)
  --pace-us US      sender pacing granularity (default 250)
  --rcvbuf BYTES    SO_RCVBUF of every media socket (default 1048576)
  --json            print one JSON object instead of the human report
  -h, --help        this help

Exit status: 0 ok, 1 the run failed (no call established, nothing received), 2 usage error.
";

#[derive(Clone)]
struct Opts {
    mode: String,
    ng: Option<SocketAddr>,
    ng2: Option<SocketAddr>,
    pid: Option<u32>,
    pid2: Option<u32>,
    name: Option<String>,
    name2: Option<String>,
    calls: Option<usize>,
    duration: f64,
    ptime: u32,
    ramp: f64,
    threads: usize,
    inflight: usize,
    drain_ms: u64,
    pace_us: u64,
    rcvbuf: usize,
    json: bool,
    ims: ImsMode,
    gw_passive: bool,
    setup_only: bool,
    setup_threads: usize,
    handshake_timeout: f64,
    webrtc: bool,
    rounds: usize,
    direction: Option<(String, String)>,
}

fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = v
        .to_socket_addrs()
        .map_err(|e| format!("bad address '{v}': {e}"))?
        .collect();
    let a = addrs
        .iter()
        .find(|a| a.ip().is_loopback())
        .copied()
        .ok_or_else(|| format!("'{v}' is not a loopback address: the load tool only talks to gateways on this host"))?;
    if a.port() == 0 {
        return Err(format!("'{v}': port 0"));
    }
    Ok(a)
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse::<T>()
        .map_err(|_| format!("{flag}: bad number '{v}'"))
}

fn parse_args(args: &[String]) -> Result<Option<Opts>, String> {
    let mut o = Opts {
        mode: String::new(),
        ng: None,
        ng2: None,
        pid: None,
        pid2: None,
        name: None,
        name2: None,
        calls: None,
        duration: 20.0,
        ptime: 20,
        ramp: 2.0,
        threads: 2,
        inflight: 64,
        drain_ms: 500,
        pace_us: 250,
        rcvbuf: 1 << 20,
        json: false,
        ims: ImsMode::Rtp,
        gw_passive: false,
        setup_only: false,
        setup_threads: 1,
        handshake_timeout: 10.0,
        webrtc: false,
        rounds: 1,
        direction: None,
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-h" || a == "--help" || a == "help" {
            return Ok(None);
        }
        if !a.starts_with('-') {
            if !o.mode.is_empty() {
                return Err(format!("unexpected argument '{a}'"));
            }
            o.mode = a.to_string();
            i += 1;
            continue;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (a, None),
        };
        let switch = match flag {
            "--json" => Some(&mut o.json),
            "--setup-only" => Some(&mut o.setup_only),
            "--webrtc" => Some(&mut o.webrtc),
            _ => None,
        };
        if let Some(sw) = switch {
            *sw = true;
            i += 1;
            continue;
        }
        let val = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?
            }
        };
        i += 1;
        match flag {
            "--ng" => o.ng = Some(parse_addr(&val)?),
            "--ng2" => o.ng2 = Some(parse_addr(&val)?),
            "--pid" => o.pid = Some(num(flag, &val)?),
            "--pid2" => o.pid2 = Some(num(flag, &val)?),
            "--name" => o.name = Some(val),
            "--name2" => o.name2 = Some(val),
            "--calls" => o.calls = Some(num(flag, &val)?),
            "--duration" => o.duration = num(flag, &val)?,
            "--ptime" => o.ptime = num(flag, &val)?,
            "--ramp" => o.ramp = num(flag, &val)?,
            "--threads" => o.threads = num(flag, &val)?,
            "--inflight" => o.inflight = num(flag, &val)?,
            "--drain" => o.drain_ms = num(flag, &val)?,
            "--pace-us" => o.pace_us = num(flag, &val)?,
            "--rcvbuf" => o.rcvbuf = num(flag, &val)?,
            "--ims" => {
                o.ims = ImsMode::parse(&val)
                    .ok_or_else(|| format!("--ims: '{val}' is not rtp or sdes"))?
            }
            "--dtls" => {
                o.gw_passive = match val.to_ascii_lowercase().as_str() {
                    "passive" => true,
                    "active" | "default" => false,
                    _ => return Err(format!("--dtls: '{val}' is not passive or default")),
                }
            }
            "--setup-threads" => o.setup_threads = num(flag, &val)?,
            "--rounds" => o.rounds = num(flag, &val)?,
            "--direction" => {
                let (a, b) = val
                    .split_once(',')
                    .filter(|(a, b)| !a.is_empty() && !b.is_empty())
                    .ok_or_else(|| format!("--direction: '{val}' is not FROM,TO"))?;
                o.direction = Some((a.to_string(), b.to_string()));
            }
            "--handshake-timeout" => o.handshake_timeout = num(flag, &val)?,
            _ => return Err(format!("unknown option '{flag}'")),
        }
    }
    if o.mode.is_empty() {
        return Err("missing mode (calls, webrtc, bare, compare or ng-rate)".into());
    }
    let media_mode = matches!(o.mode.as_str(), "calls" | "webrtc" | "bare" | "compare");
    let calls = o
        .calls
        .unwrap_or(if o.mode == "ng-rate" { 20_000 } else { 500 });
    if calls == 0 || (media_mode && calls > 4000) || calls > 10_000_000 {
        return Err(format!(
            "--calls {calls} out of range (1..=4000 with media, 1..=10000000 for ng-rate)"
        ));
    }
    if !(0.5..=3600.0).contains(&o.duration) {
        return Err("--duration must be 0.5..=3600 seconds".into());
    }
    if !(10..=100).contains(&o.ptime) {
        return Err("--ptime must be 10..=100 ms".into());
    }
    if !(0.0..=600.0).contains(&o.ramp) {
        return Err("--ramp must be 0..=600 seconds".into());
    }
    if o.threads == 0 || o.threads > 64 {
        return Err("--threads must be 1..=64".into());
    }
    if o.inflight == 0 || o.inflight > 4096 {
        return Err("--inflight must be 1..=4096".into());
    }
    if o.drain_ms > 10_000 {
        return Err("--drain must be at most 10000 ms".into());
    }
    if !(10..=20_000).contains(&o.pace_us) {
        return Err("--pace-us must be 10..=20000".into());
    }
    if o.setup_threads == 0 || o.setup_threads > 16 {
        return Err("--setup-threads must be 1..=16".into());
    }
    if o.setup_only && o.mode != "webrtc" {
        return Err("--setup-only is for webrtc runs".into());
    }
    if o.webrtc && o.mode != "compare" {
        return Err("--webrtc is for compare (use the webrtc mode)".into());
    }
    if o.rounds == 0 || o.rounds > 10 {
        return Err("--rounds must be 1..=10".into());
    }
    if o.rounds > 1 && !o.webrtc {
        return Err("--rounds is for compare --webrtc".into());
    }
    if !(0.1..=120.0).contains(&o.handshake_timeout) {
        return Err("--handshake-timeout must be 0.1..=120 seconds".into());
    }
    o.rcvbuf = o.rcvbuf.clamp(4096, 64 << 20);
    match o.mode.as_str() {
        "calls" | "webrtc" | "ng-rate" if o.ng.is_none() => {
            return Err(format!("{} needs --ng ADDR", o.mode))
        }
        "compare" => {
            if o.ng.is_none() || o.pid.is_none() {
                return Err("compare needs --ng ADDR and --pid PID".into());
            }
            if o.ng2.is_some() && o.pid2.is_none() {
                return Err("compare with --ng2 needs --pid2 PID".into());
            }
        }
        "calls" | "webrtc" | "ng-rate" | "bare" => {}
        m => {
            return Err(format!(
                "unknown mode '{m}' (calls, webrtc, bare, compare, ng-rate)"
            ))
        }
    }
    o.calls = Some(calls);
    Ok(Some(o))
}

/// Entry point: `args` are the arguments after `eagw load`. Returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    if args.first().map(String::as_str) == Some("transcode") {
        sys::raise_nofile();
        return transcode::main(&args[1..]);
    }
    let o = match parse_args(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{HELP}");
            return 0;
        }
        Err(e) => {
            eprintln!("eagw load: {e}\n(see eagw load --help)");
            return 2;
        }
    };
    sys::raise_nofile();
    let res = match o.mode.as_str() {
        "calls" => {
            let r = run_calls(&o, o.ng.expect("checked"), o.pid, o.name.clone());
            r.map(|r| emit_load(&o, r))
        }
        "webrtc" => {
            let r = run_webrtc(&o, o.ng.expect("checked"), o.pid, o.name.clone());
            r.map(|r| emit_load(&o, r))
        }
        "bare" => run_bare(&o).map(|r| emit_load(&o, r)),
        "compare" => run_compare(&o),
        "ng-rate" => run_ng_rate(&o),
        _ => unreachable!("mode validated"),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eagw load: {e}");
            1
        }
    }
}

fn emit_load(o: &Opts, r: LoadReport) -> i32 {
    if o.json {
        println!("{}", r.to_json());
    } else {
        print!("{}", r.human());
    }
    load_exit_code(&r)
}

fn load_exit_code(r: &LoadReport) -> i32 {
    match &r.media {
        Some(m) if r.calls_established > 0 && m.received() > 0 => 0,
        None if r.mode == "webrtc" && r.calls_established > 0 => 0, // --setup-only
        _ => 1,
    }
}

/// Progress goes to stderr so that stdout holds only the report (or the JSON object).
fn progress(_o: &Opts, msg: &str) {
    eprintln!("[load] {msg}");
}

fn loopback_like(a: &SocketAddr) -> IpAddr {
    match a {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

fn run_tag() -> u32 {
    sys::Rng::seeded().next_u32()
}

/// The two media legs of every call, bound on loopback.
fn bind_legs(
    ip: IpAddr,
    calls: usize,
    rcvbuf: usize,
) -> Result<(Vec<UdpSocket>, Vec<SocketAddr>), String> {
    let mut socks = Vec::with_capacity(calls * 2);
    let mut addrs = Vec::with_capacity(calls * 2);
    for _ in 0..calls * 2 {
        let (s, a) = sys::bind_udp(ip, rcvbuf)
            .map_err(|e| format!("binding media socket: {e} (raise ulimit -n?)"))?;
        socks.push(s);
        addrs.push(a);
    }
    Ok((socks, addrs))
}

fn rcvbuf_fact(socks: &[UdpSocket], want: usize) -> (String, String) {
    let got = socks
        .first()
        .map(|s| sys::set_rcvbuf(s.as_raw_fd(), want))
        .unwrap_or(0);
    (
        "media SO_RCVBUF".into(),
        format!("{got} bytes (requested {want})"),
    )
}

fn media_cfg(o: &Opts) -> MediaCfg {
    MediaCfg {
        ptime_ms: o.ptime,
        duration: Duration::from_secs_f64(o.duration),
        drain: Duration::from_millis(o.drain_ms),
        quantum_us: o.pace_us,
        run_tag: run_tag(),
    }
}

/// Adds the usual warnings about the tool's own limits and the media figures.
fn media_warnings(r: &mut LoadReport) {
    let Some(m) = &r.media else { return };
    let util = report::tool_util(m);
    if util > 0.7 {
        r.warnings.push(format!(
            "the load tool itself used {:.0} % of a core during the media phase: its figures may be limited by the tool",
            util * 100.0
        ));
    }
    if m.late_sends > 0 {
        r.warnings.push(format!(
            "{} packets were sent more than 5 ms behind schedule (tool or host overloaded)",
            m.late_sends
        ));
    }
    if m.srtp_errors > 0 {
        r.warnings.push(format!(
            "{} SRTP packets failed authentication or replay checks",
            m.srtp_errors
        ));
    }
    if m.send_errors > 0 {
        r.warnings
            .push(format!("{} sendto() errors", m.send_errors));
    }
    if m.misrouted > 0 {
        r.warnings.push(format!(
            "{} packets arrived on the wrong leg or were not ours",
            m.misrouted
        ));
    }
    let silent: u64 = m.dirs.iter().map(|d| d.silent_streams).sum();
    if silent > 0 {
        r.warnings
            .push(format!("{silent} streams received nothing"));
    }
    if m.received() == 0 {
        r.warnings.push("no media was received at all".into());
    }
}

// ---------------------------------------------------------------- calls mode

struct SetupDriver<'a> {
    run: &'a str,
    ptime: u32,
    legs: &'a [SocketAddr],
    ng_ip: IpAddr,
    direction: Option<&'a (String, String)>,
    /// Where the callee sends (gateway address from the offer's reply).
    offer_to: Vec<Option<SocketAddr>>,
    /// Where the caller sends (gateway address from the answer's reply).
    answer_to: Vec<Option<SocketAddr>>,
    /// Calls the gateway may hold state for (to delete at the end).
    touched: Vec<bool>,
    sdp_errors: Vec<String>,
}

/// The ng `direction` list: the offerer's interface, then the answerer's.
fn direction_value(d: &(String, String)) -> Value {
    list(&[d.0.as_str(), d.1.as_str()])
}

fn call_keys(run: &str, call: usize) -> (String, String, String) {
    (
        format!("eagw-load-{run}-{call}"),
        format!("ft-{run}-{call}"),
        format!("tt-{run}-{call}"),
    )
}

impl SetupDriver<'_> {
    fn gateway_addr(&mut self, v: &Value) -> Option<SocketAddr> {
        let sdp = dget(v, "sdp").and_then(vbytes);
        let res = match sdp {
            None => Err("reply has no sdp".to_string()),
            Some(b) => ng_client::sdp_audio_addr(b),
        };
        match res {
            Ok(a) if a.ip().is_loopback() || a.ip() == self.ng_ip => Some(a),
            Ok(a) => {
                self.note_sdp(format!("gateway SDP address {a} is neither loopback nor the ng host: not sending media there"));
                None
            }
            Err(e) => {
                self.note_sdp(e);
                None
            }
        }
    }
    fn note_sdp(&mut self, e: String) {
        if self.sdp_errors.len() < 5 {
            self.sdp_errors.push(e);
        }
    }
}

impl Driver for SetupDriver<'_> {
    fn request(&mut self, call: usize, cmd: Cmd) -> Value {
        let (cid, ft, tt) = call_keys(self.run, call);
        match cmd {
            Cmd::Offer => {
                let mut items = vec![
                    ("command", s("offer")),
                    ("call-id", s(&cid)),
                    ("from-tag", s(&ft)),
                    (
                        "sdp",
                        s(&ng_client::sdp_for(
                            self.legs[2 * call],
                            call as u64 + 1,
                            self.ptime,
                        )),
                    ),
                    ("replace", list(&["origin"])),
                    ("flags", list(&[])),
                    ("supports", list(&["load limit"])),
                ];
                if let Some(d) = self.direction {
                    items.push(("direction", direction_value(d)));
                }
                dict(items)
            }
            Cmd::Answer => dict(vec![
                ("command", s("answer")),
                ("call-id", s(&cid)),
                ("from-tag", s(&ft)),
                ("to-tag", s(&tt)),
                (
                    "sdp",
                    s(&ng_client::sdp_for(
                        self.legs[2 * call + 1],
                        call as u64 + 100_001,
                        self.ptime,
                    )),
                ),
                ("replace", list(&["origin"])),
                ("flags", list(&[])),
                ("supports", list(&["load limit"])),
            ]),
            Cmd::Delete => dict(vec![
                ("command", s("delete")),
                ("call-id", s(&cid)),
                ("from-tag", s(&ft)),
            ]),
        }
    }

    fn reply(&mut self, call: usize, cmd: Cmd, outcome: Outcome<'_>) -> Option<Cmd> {
        match (cmd, outcome) {
            (Cmd::Offer, Outcome::Ok(v)) => {
                self.touched[call] = true;
                self.offer_to[call] = self.gateway_addr(v);
                // Answer even if the SDP was unusable, so the call is complete on the gateway.
                Some(Cmd::Answer)
            }
            (Cmd::Offer, Outcome::Timeout) => {
                self.touched[call] = true; // it may have arrived
                None
            }
            (Cmd::Answer, Outcome::Ok(v)) => {
                self.answer_to[call] = self.gateway_addr(v);
                None
            }
            _ => None,
        }
    }
}

/// Counts nothing itself: the engine's statistics say how the deletes went.
struct DeleteDriver<'a> {
    run: &'a str,
}

impl Driver for DeleteDriver<'_> {
    fn request(&mut self, call: usize, _cmd: Cmd) -> Value {
        let (cid, ft, _) = call_keys(self.run, call);
        dict(vec![
            ("command", s("delete")),
            ("call-id", s(&cid)),
            ("from-tag", s(&ft)),
        ])
    }
    fn reply(&mut self, _call: usize, _cmd: Cmd, _outcome: Outcome<'_>) -> Option<Cmd> {
        None
    }
}

fn run_calls(
    o: &Opts,
    ng: SocketAddr,
    pid: Option<u32>,
    name: Option<String>,
) -> Result<LoadReport, String> {
    let calls = o.calls.expect("validated");
    let cpu_start_process = sys::process_cpu_s();
    let ip = loopback_like(&ng);
    let target = name.unwrap_or_else(|| format!("ng {ng}"));
    let mut rep = LoadReport::new("calls", target, calls, o.ptime, o.duration);
    if let Some(p) = pid {
        sys::proc_cpu_s(p).map_err(|e| format!("cannot read /proc/{p}/stat: {e}"))?;
    }
    let (socks, addrs) = bind_legs(ip, calls, o.rcvbuf)?;
    rep.facts.push(rcvbuf_fact(&socks, o.rcvbuf));
    let run = format!("{:08x}", run_tag());
    let mut client = NgClient::new(ng, ip, &run).map_err(|e| format!("ng socket: {e}"))?;

    // Set-up.
    progress(
        o,
        &format!("setting up {calls} calls via {ng} over {:.1} s", o.ramp),
    );
    let mut drv = SetupDriver {
        run: &run,
        ptime: o.ptime,
        legs: &addrs,
        ng_ip: ng.ip(),
        direction: o.direction.as_ref(),
        offer_to: vec![None; calls],
        answer_to: vec![None; calls],
        touched: vec![false; calls],
        sdp_errors: Vec::new(),
    };
    let ecfg = EngineCfg {
        inflight: o.inflight,
        retransmit: Duration::from_millis(500),
        tries: 5,
        admit_interval: Duration::from_secs_f64(o.ramp / calls as f64),
    };
    let mut setup = EngineStats::default();
    let all: Vec<usize> = (0..calls).collect();
    // Memory of the gateway per idle call, measured at the margin: RSS after the first
    // half of the calls is set up, and after the second half (so one-time warm-up of the
    // gateway's allocator and tables is not charged to the calls). Includes everything
    // userspace holds per call (state, socket table, reply cache), not kernel socket memory.
    let half = calls / 2;
    client.run(&mut drv, Cmd::Offer, &all[..half], &ecfg, &mut setup);
    let rss_mid = pid.and_then(|p| sys::proc_rss_bytes(p).ok());
    let set_mid = drv.answer_to.iter().filter(|a| a.is_some()).count();
    let mut second = EngineStats::default();
    client.run(&mut drv, Cmd::Offer, &all[half..], &ecfg, &mut second);
    setup.merge(&second);
    if let (Some(p), Some(mid)) = (pid, rss_mid) {
        let set_up = drv.answer_to.iter().filter(|a| a.is_some()).count() - set_mid;
        if let (Ok(after), true) = (sys::proc_rss_bytes(p), set_up > 0) {
            let per = after.saturating_sub(mid) as f64 / set_up as f64;
            rep.facts.push((
                "gateway RSS per idle call".into(),
                format!(
                    "{:.0} bytes ({:.1} KiB): RSS {:.1} -> {:.1} MiB over the last {set_up} calls set up",
                    per,
                    per / 1024.0,
                    mid as f64 / 1048576.0,
                    after as f64 / 1048576.0
                ),
            ));
        }
    }
    for e in &drv.sdp_errors {
        rep.warnings.push(format!("SDP: {e}"));
    }
    let established: Vec<usize> = (0..calls)
        .filter(|&c| drv.offer_to[c].is_some() && drv.answer_to[c].is_some())
        .collect();
    rep.calls_established = established.len();
    progress(
        o,
        &format!(
            "{} of {calls} calls established in {:.2} s",
            established.len(),
            setup.elapsed_s
        ),
    );
    let touched: Vec<usize> = (0..calls).filter(|&c| drv.touched[c]).collect();
    let setup_failures = setup.cmd(Cmd::Offer).failures() + setup.cmd(Cmd::Answer).failures();
    if setup_failures > 0 {
        rep.warnings
            .push(format!("{setup_failures} offer/answer requests failed"));
    }

    // Media.
    if !established.is_empty() {
        let mut legs = Vec::with_capacity(established.len() * 2);
        let mut labels = Vec::with_capacity(established.len());
        for &c in &established {
            legs.push(Leg {
                fd: socks[2 * c].as_raw_fd(),
                dest: drv.answer_to[c].expect("established"),
            });
            legs.push(Leg {
                fd: socks[2 * c + 1].as_raw_fd(),
                dest: drv.offer_to[c].expect("established"),
            });
            labels.push(c as u32);
        }
        media_phase(o, &legs, &labels, Vec::new(), pid, &mut rep);
    } else {
        rep.warnings
            .push("no call was established: no media sent".into());
    }
    drop(drv);

    // Teardown (skipped when the gateway never answered anything: it holds no state of ours).
    let answered: u64 = [Cmd::Offer, Cmd::Answer]
        .iter()
        .map(|c| {
            let cs = setup.cmd(*c);
            cs.ok + cs.errors + cs.load_limit + cs.bad
        })
        .sum();
    let touched = if answered == 0 {
        rep.warnings
            .push("the gateway answered no request: nothing to delete".into());
        Vec::new()
    } else {
        touched
    };
    rep.setup = Some(setup);
    teardown(o, &mut client, &run, &touched, &ecfg, &mut rep);
    media_warnings(&mut rep);
    drop(socks);
    rep.process_cpu_s = sys::process_cpu_s() - cpu_start_process;
    Ok(rep)
}

/// The media phase over `legs` with the gateway's CPU (`pid`) sampled around it.
fn media_phase(
    o: &Opts,
    legs: &[Leg],
    labels: &[u32],
    srtp: Vec<Option<LegSrtp>>,
    pid: Option<u32>,
    rep: &mut LoadReport,
) {
    progress(
        o,
        &format!("media: {} calls, {:.1} s", labels.len(), o.duration),
    );
    let mut cpu: [Option<f64>; 2] = [None, None];
    let mut hook = |ph: Phase| {
        if let Some(p) = pid {
            let v = sys::proc_cpu_s(p).ok();
            match ph {
                Phase::Start => cpu[0] = v,
                Phase::End => cpu[1] = v,
            }
        }
    };
    let m = media::run(legs, labels, srtp, &media_cfg(o), &mut hook);
    if let (Some(p), Some(a), Some(b)) = (pid, cpu[0], cpu[1]) {
        rep.gw_cpu = Some(CpuFig {
            source: format!("pid {p}"),
            cpu_s: b - a,
            wall_s: m.wall_s,
            relayed: m.received(),
        });
    } else if let Some(p) = pid {
        rep.warnings.push(format!(
            "could not read /proc/{p}/stat during the media phase (gateway exited?)"
        ));
    }
    rep.media = Some(m);
}

/// Deletes the calls in `touched`; the outcome goes into `rep`.
fn teardown(
    o: &Opts,
    client: &mut NgClient,
    run: &str,
    touched: &[usize],
    ecfg: &EngineCfg,
    rep: &mut LoadReport,
) {
    progress(o, &format!("deleting {} calls", touched.len()));
    let mut st = EngineStats::default();
    let dcfg = EngineCfg {
        admit_interval: Duration::ZERO,
        ..*ecfg
    };
    client.run(&mut DeleteDriver { run }, Cmd::Delete, touched, &dcfg, &mut st);
    let del = st.cmd(Cmd::Delete);
    if del.failures() > 0 {
        rep.warnings.push(format!(
            "{} of {} deletes did not return result ok",
            del.failures(),
            touched.len()
        ));
    }
    rep.teardown = Some(st);
}

// ---------------------------------------------------------------- webrtc mode

fn run_webrtc(
    o: &Opts,
    ng: SocketAddr,
    pid: Option<u32>,
    name: Option<String>,
) -> Result<LoadReport, String> {
    let calls = o.calls.expect("validated");
    let cpu_start_process = sys::process_cpu_s();
    let ip = loopback_like(&ng);
    let target = name.unwrap_or_else(|| format!("ng {ng}"));
    let target = format!("{target} webrtc/{}", o.ims.name());
    let duration = if o.setup_only { 0.0 } else { o.duration };
    let mut rep = LoadReport::new("webrtc", target, calls, o.ptime, duration);
    if let Some(p) = pid {
        sys::proc_cpu_s(p).map_err(|e| format!("cannot read /proc/{p}/stat: {e}"))?;
    }
    let (socks, _) = bind_legs(ip, calls, o.rcvbuf)?;
    rep.facts.push(rcvbuf_fact(&socks, o.rcvbuf));
    let mut it = socks.into_iter();
    let pairs: Vec<CallSocks> = (0..calls)
        .map(|_| {
            let web = it.next().expect("two sockets per call");
            let ims = it.next().expect("two sockets per call");
            CallSocks { web, ims }
        })
        .collect();
    let identity = Arc::new(Identity::generate()?);
    let run = format!("{:08x}", run_tag());
    let ecfg = EngineCfg {
        inflight: o.inflight,
        retransmit: Duration::from_millis(500),
        tries: 5,
        admit_interval: Duration::ZERO,
    };
    let cfg = SetupCfg {
        run: run.clone(),
        ptime: o.ptime,
        ims: o.ims,
        gw_passive: o.gw_passive,
        inflight: o.inflight,
        handshake_timeout: Duration::from_secs_f64(o.handshake_timeout),
        stun_retransmit: Duration::from_millis(200),
        direction: o.direction.clone(),
        ng: EngineCfg { ..ecfg },
    };

    // Set-up: offer, answer, ICE, DTLS per call.
    progress(
        o,
        &format!(
            "WebRTC set-up of {calls} calls via {ng}: {} in flight, {} thread(s), IMS side {}",
            o.inflight,
            o.setup_threads,
            o.ims.name()
        ),
    );
    let gw0 = pid.and_then(|p| sys::proc_cpu_fine_s(p).ok());
    let tool0 = sys::process_cpu_s();
    let out = webrtc::setup_threads(&cfg, ng, &identity, &pairs, o.setup_threads)?;
    let tool_cpu_s = sys::process_cpu_s() - tool0;
    let gw1 = pid.and_then(|p| sys::proc_cpu_fine_s(p).ok());
    let gw_cpu = match (pid, gw0, gw1) {
        (Some(p), Some((a, src)), Some((b, _))) => Some((format!("pid {p}, /proc {src}"), b - a)),
        _ => None,
    };
    let fig = SetupFig {
        stats: out.stats.clone(),
        inflight: o.inflight,
        threads: o.setup_threads.min(calls),
        ims: o.ims.name(),
        gw_cpu,
        tool_cpu_s,
    };
    progress(
        o,
        &format!(
            "{} of {calls} calls set up in {:.2} s ({:.0}/s)",
            fig.stats.completed,
            fig.stats.wall_s,
            fig.rate()
        ),
    );
    if fig.tool_busy() > 0.85 {
        rep.warnings.push(format!(
            "the tool's set-up threads were {:.0} % busy: the set-up rate was limited by the tool (its DTLS costs as much as the gateway's); the gateway's CPU per set-up still holds",
            fig.tool_busy() * 100.0
        ));
    }
    if fig.stats.failed() > 0 {
        rep.warnings
            .push(format!("{} call set-ups failed", fig.stats.failed()));
    }
    if fig.stats.role_mismatch > 0 {
        rep.warnings.push(format!(
            "{} answers gave another DTLS role than --dtls asked for (the SDP's a=setup was followed)",
            fig.stats.role_mismatch
        ));
    }
    if pid.is_some() && fig.gw_cpu.is_none() {
        rep.warnings
            .push("could not read the gateway's CPU around the set-up phase".into());
    }
    rep.calls_established = fig.stats.completed;
    rep.handshake = Some(fig);
    rep.setup = Some(out.ng);

    // Media: the browser leg speaks SRTP with the DTLS keys, the IMS leg RTP or SDES-SRTP.
    if o.setup_only {
        rep.facts
            .push(("media".into(), "none (--setup-only)".into()));
    } else if !out.established.is_empty() {
        let n = out.established.len();
        let mut legs = Vec::with_capacity(n * 2);
        let mut labels = Vec::with_capacity(n);
        let mut srtp = Vec::with_capacity(n * 2);
        for e in out.established {
            let pair = &pairs[e.call];
            legs.push(Leg {
                fd: pair.web.as_raw_fd(),
                dest: e.gw_web,
            });
            legs.push(Leg {
                fd: pair.ims.as_raw_fd(),
                dest: e.gw_ims,
            });
            labels.push(e.call as u32);
            srtp.push(Some(LegSrtp {
                tx: Srtp::new(e.web_keys.tx)?,
                rx: Srtp::new(e.web_keys.rx)?,
            }));
            srtp.push(match e.ims_keys {
                Some((tx, rx)) => Some(LegSrtp {
                    tx: Srtp::new(tx)?,
                    rx: Srtp::new(rx)?,
                }),
                None => None,
            });
        }
        media_phase(o, &legs, &labels, srtp, pid, &mut rep);
    } else {
        rep.warnings
            .push("no call was set up: no media sent".into());
    }

    // Teardown of every call the gateway may hold.
    let mut client =
        NgClient::new(ng, ip, &format!("{run}d")).map_err(|e| format!("ng socket: {e}"))?;
    teardown(o, &mut client, &run, &out.touched, &ecfg, &mut rep);
    media_warnings(&mut rep);
    drop(pairs);
    rep.process_cpu_s = sys::process_cpu_s() - cpu_start_process;
    Ok(rep)
}

// ---------------------------------------------------------------- bare mode

fn run_bare(o: &Opts) -> Result<LoadReport, String> {
    let calls = o.calls.expect("validated");
    let cpu_start_process = sys::process_cpu_s();
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut rep = LoadReport::new(
        "bare",
        format!("bare relay ({} threads)", o.threads),
        calls,
        o.ptime,
        o.duration,
    );
    let (socks, addrs) = bind_legs(ip, calls, o.rcvbuf)?;
    rep.facts.push(rcvbuf_fact(&socks, o.rcvbuf));
    let pairs: Vec<(SocketAddr, SocketAddr)> = (0..calls)
        .map(|c| (addrs[2 * c], addrs[2 * c + 1]))
        .collect();
    progress(
        o,
        &format!("bare relay: {} threads, {} sockets", o.threads, calls * 2),
    );
    let relay = bare::BareRelay::start(ip, &pairs, o.threads, o.rcvbuf)
        .map_err(|e| format!("bare relay: {e}"))?;
    rep.calls_established = calls;
    let mut legs = Vec::with_capacity(calls * 2);
    for c in 0..calls {
        // The caller sends to the relay's caller-facing socket, the callee to the callee-facing one.
        legs.push(Leg {
            fd: socks[2 * c].as_raw_fd(),
            dest: relay.ports[c].0,
        });
        legs.push(Leg {
            fd: socks[2 * c + 1].as_raw_fd(),
            dest: relay.ports[c].1,
        });
    }
    let labels: Vec<u32> = (0..calls as u32).collect();
    progress(o, &format!("media: {calls} calls, {:.1} s", o.duration));
    let m = media::run(&legs, &labels, Vec::new(), &media_cfg(o), &mut |_| {});
    let st = relay.stop();
    rep.facts
        .push(("relay threads".into(), st.threads.to_string()));
    rep.facts.push((
        "relay packets".into(),
        format!("{} relayed, {} send errors", st.packets, st.send_errors),
    ));
    rep.gw_cpu = Some(CpuFig {
        source: format!("bare relay, {} threads (RUSAGE_THREAD)", st.threads),
        cpu_s: st.cpu_s,
        wall_s: m.wall_s,
        relayed: m.received(),
    });
    rep.media = Some(m);
    media_warnings(&mut rep);
    drop(socks);
    rep.process_cpu_s = sys::process_cpu_s() - cpu_start_process;
    Ok(rep)
}

// ---------------------------------------------------------------- compare mode

fn run_compare(o: &Opts) -> Result<i32, String> {
    let mut runs = Vec::new();
    progress(o, "compare 1: bare relay");
    runs.push(run_bare(o)?);
    std::thread::sleep(Duration::from_secs(1));
    let name = o
        .name
        .clone()
        .or_else(|| Some(format!("ng {}", o.ng.expect("validated"))));
    let ng = o.ng.expect("validated");
    // With --webrtc: plain and webrtc calls on the same gateway back to back, in ABBA order
    // over the rounds so that a drift of the host's load does not favour either.
    let mut plain = Vec::new();
    let mut web = Vec::new();
    let rounds = if o.webrtc { o.rounds } else { 1 };
    for r in 0..rounds {
        let order: &[bool] = match (o.webrtc, r % 2) {
            (false, _) => &[false],
            (true, 0) => &[false, true],
            (true, _) => &[true, false],
        };
        for &is_web in order {
            if r > 0 || is_web {
                std::thread::sleep(Duration::from_secs(1));
            }
            let tag = if rounds > 1 { format!(" #{}", r + 1) } else { String::new() };
            let what = if is_web { "webrtc" } else { "plain" };
            progress(
                o,
                &format!("compare {}: {what} calls on --ng{tag}", runs.len() + 1),
            );
            let mut rep = if is_web {
                run_webrtc(o, ng, o.pid, name.clone())?
            } else {
                run_calls(o, ng, o.pid, name.clone())?
            };
            rep.target.push_str(&tag);
            if is_web {
                web.push(runs.len());
            } else {
                plain.push(runs.len());
            }
            runs.push(rep);
        }
    }
    if let Some(ng2) = o.ng2 {
        std::thread::sleep(Duration::from_secs(1));
        progress(o, &format!("compare {}: gateway --ng2", runs.len() + 1));
        let name = o.name2.clone().or_else(|| Some(format!("ng {ng2}")));
        runs.push(run_calls(o, ng2, o.pid2, name)?);
    }
    let rows = report::compare_rows(&runs);
    let pick = |idx: &[usize]| idx.iter().map(|&i| &runs[i]).collect::<Vec<_>>();
    let delta = report::WebrtcDelta::of(&pick(&plain), &pick(&web));
    if o.json {
        let j = serde_json::json!({
            "mode": "compare",
            "calls": o.calls,
            "duration_s": o.duration,
            "ptime_ms": o.ptime,
            "table": report::compare_json(&rows),
            "webrtc": delta.as_ref().map(|d| d.json()),
            "runs": runs.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
        });
        println!("{j}");
    } else {
        println!(
            "== eagw load compare: {} calls, {:.0} s, ptime {} ms ==",
            o.calls.expect("validated"),
            o.duration,
            o.ptime
        );
        print!("{}", report::compare_human(&rows));
        if let Some(d) = &delta {
            print!("{}", d.human());
        }
        for r in &runs {
            for w in &r.warnings {
                println!("WARNING [{}]: {w}", r.target);
            }
        }
    }
    Ok(runs.iter().map(load_exit_code).max().unwrap_or(0))
}

// ---------------------------------------------------------------- ng-rate mode

struct RateDriver<'a> {
    run: &'a str,
    /// Per call: offer ok, answer ok.
    ok: Vec<u8>,
    completed: u64,
    failed: u64,
}

impl Driver for RateDriver<'_> {
    fn request(&mut self, call: usize, cmd: Cmd) -> Value {
        let (cid, ft, tt) = call_keys(self.run, call);
        // No media flows: the SDP ports only have to be plausible.
        let port = 10_000 + (call % 25_000) as u16 * 2;
        let a = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let b = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port + 1);
        match cmd {
            Cmd::Offer => dict(vec![
                ("command", s("offer")),
                ("call-id", s(&cid)),
                ("from-tag", s(&ft)),
                ("sdp", s(&ng_client::sdp_for(a, call as u64 + 1, 20))),
                ("replace", list(&["origin"])),
                ("flags", list(&[])),
                ("supports", list(&["load limit"])),
            ]),
            Cmd::Answer => dict(vec![
                ("command", s("answer")),
                ("call-id", s(&cid)),
                ("from-tag", s(&ft)),
                ("to-tag", s(&tt)),
                ("sdp", s(&ng_client::sdp_for(b, call as u64 + 1, 20))),
                ("replace", list(&["origin"])),
                ("flags", list(&[])),
                ("supports", list(&["load limit"])),
            ]),
            Cmd::Delete => dict(vec![
                ("command", s("delete")),
                ("call-id", s(&cid)),
                ("from-tag", s(&ft)),
            ]),
        }
    }

    fn reply(&mut self, call: usize, cmd: Cmd, outcome: Outcome<'_>) -> Option<Cmd> {
        let ok = match &outcome {
            Outcome::Ok(v) => {
                cmd == Cmd::Delete
                    || dget(v, "sdp")
                        .and_then(vbytes)
                        .map(|b| ng_client::sdp_audio_addr(b).is_ok())
                        .unwrap_or(false)
            }
            _ => false,
        };
        match cmd {
            Cmd::Offer if ok => Some(Cmd::Answer),
            Cmd::Offer => {
                self.failed += 1;
                None
            }
            Cmd::Answer => {
                if ok {
                    self.ok[call] = 1;
                }
                Some(Cmd::Delete) // clean up either way
            }
            Cmd::Delete => {
                if ok && self.ok[call] == 1 {
                    self.completed += 1;
                } else {
                    self.failed += 1;
                }
                None
            }
        }
    }
}

fn run_ng_rate(o: &Opts) -> Result<i32, String> {
    let ng = o.ng.expect("validated");
    let calls = o.calls.expect("validated");
    let cpu0 = sys::process_cpu_s();
    let run = format!("{:08x}", run_tag());
    let mut client =
        NgClient::new(ng, loopback_like(&ng), &run).map_err(|e| format!("ng socket: {e}"))?;
    progress(
        o,
        &format!("ng-rate: {calls} calls against {ng}, window {}", o.inflight),
    );
    let mut drv = RateDriver {
        run: &run,
        ok: vec![0; calls],
        completed: 0,
        failed: 0,
    };
    let mut st = EngineStats::default();
    let cfg = EngineCfg {
        inflight: o.inflight,
        retransmit: Duration::from_millis(500),
        tries: 5,
        admit_interval: Duration::ZERO,
    };
    let all: Vec<usize> = (0..calls).collect();
    client.run(&mut drv, Cmd::Offer, &all, &cfg, &mut st);
    let r = RateReport {
        target: o.name.clone().unwrap_or_else(|| format!("ng {ng}")),
        calls,
        inflight: o.inflight,
        completed: drv.completed,
        failed: drv.failed,
        stats: st,
        process_cpu_s: sys::process_cpu_s() - cpu0,
    };
    if o.json {
        println!("{}", r.to_json());
    } else {
        print!("{}", r.human());
    }
    Ok(if r.completed > 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Opts, String> {
        let v: Vec<String> = args.split_whitespace().map(String::from).collect();
        parse_args(&v).map(|o| o.expect("not help"))
    }

    #[test]
    fn webrtc_options() {
        let o = parse("webrtc --ng 127.0.0.1:2295 --pid 7 --calls 500 --duration 20").unwrap();
        assert_eq!((o.mode.as_str(), o.calls, o.pid), ("webrtc", Some(500), Some(7)));
        assert_eq!((o.ims, o.gw_passive, o.setup_only, o.setup_threads), (ImsMode::Rtp, false, false, 1));
        assert_eq!(o.handshake_timeout, 10.0);
        assert!(o.direction.is_none());
        let o = parse(
            "webrtc --ng 127.0.0.1:2295 --ims sdes --dtls passive --setup-only --setup-threads=2 \
             --handshake-timeout 3 --inflight 128 --direction access,core --json",
        )
        .unwrap();
        assert_eq!((o.ims, o.gw_passive, o.setup_only, o.setup_threads), (ImsMode::Sdes, true, true, 2));
        assert_eq!((o.handshake_timeout, o.inflight, o.json), (3.0, 128, true));
        assert_eq!(o.direction, Some(("access".into(), "core".into())));
        let o = parse("compare --ng 127.0.0.1:2295 --pid 7 --webrtc --ims sdes --rounds 3").unwrap();
        assert!(o.webrtc && o.ims == ImsMode::Sdes && o.rounds == 3);
    }

    #[test]
    fn webrtc_option_errors() {
        for (args, want) in [
            ("webrtc", "needs --ng"),
            ("webrtc --ng 10.0.0.1:2295", "not a loopback"),
            ("webrtc --ng 127.0.0.1:2295 --ims zrtp", "--ims"),
            ("webrtc --ng 127.0.0.1:2295 --dtls sideways", "--dtls"),
            ("webrtc --ng 127.0.0.1:2295 --setup-threads 0", "--setup-threads"),
            ("webrtc --ng 127.0.0.1:2295 --handshake-timeout 0", "--handshake-timeout"),
            ("webrtc --ng 127.0.0.1:2295 --direction access", "--direction"),
            ("webrtc --ng 127.0.0.1:2295 --direction ,core", "--direction"),
            ("webrtc --ng 127.0.0.1:2295 --calls 4001", "--calls"),
            ("calls --ng 127.0.0.1:2295 --setup-only", "--setup-only"),
            ("webrtc --ng 127.0.0.1:2295 --webrtc", "--webrtc"),
            ("compare --ng 127.0.0.1:2295 --pid 7 --rounds 2", "--rounds"),
            ("compare --ng 127.0.0.1:2295 --pid 7 --webrtc --rounds 11", "--rounds"),
            ("webrtc --ng 127.0.0.1:2295 --inflight", "needs a value"),
        ] {
            let e = parse(args).err().unwrap_or_else(|| panic!("{args}: accepted"));
            assert!(e.contains(want), "{args}: {e}");
        }
    }

    #[test]
    fn offers_carry_the_direction() {
        let legs: Vec<SocketAddr> = ["127.0.0.1:7000", "127.0.0.1:7002"].iter().map(|a| a.parse().unwrap()).collect();
        let dir = ("access".to_string(), "core".to_string());
        let mut drv = SetupDriver {
            run: "r",
            ptime: 20,
            legs: &legs,
            ng_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            direction: Some(&dir),
            offer_to: vec![None],
            answer_to: vec![None],
            touched: vec![false],
            sdp_errors: Vec::new(),
        };
        let offer = drv.request(0, Cmd::Offer);
        let d: Vec<&str> = offer.get("direction").and_then(Value::as_list).unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(d, ["access", "core"]);
        assert!(drv.request(0, Cmd::Answer).get("direction").is_none());
        drv.direction = None;
        assert!(drv.request(0, Cmd::Offer).get("direction").is_none());
    }
}
