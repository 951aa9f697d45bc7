//! Human-readable and JSON reports.

use std::fmt::Write as _;

use serde_json::{json, Value as Json};

use super::media::{DirStats, Hist, MediaResult, DIR_NAMES};
use super::ng_client::{Cmd, EngineStats};
use super::webrtc::SetupStats;

/// CPU used by the relaying side (a gateway process or the bare relay threads) during the
/// media phase.
pub struct CpuFig {
    pub source: String,
    pub cpu_s: f64,
    pub wall_s: f64,
    /// Packets received by the tool during the phase (= relayed packets).
    pub relayed: u64,
}

impl CpuFig {
    pub fn us_per_pkt(&self) -> f64 {
        if self.relayed == 0 {
            0.0
        } else {
            self.cpu_s * 1e6 / self.relayed as f64
        }
    }
    pub fn s_per_mpkt(&self) -> f64 {
        if self.relayed == 0 {
            0.0
        } else {
            self.cpu_s * 1e6 / self.relayed as f64
        }
    }
    pub fn cores(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.cpu_s / self.wall_s
        } else {
            0.0
        }
    }
    fn json(&self) -> Json {
        json!({
            "source": self.source,
            "cpu_s": round(self.cpu_s, 4),
            "wall_s": round(self.wall_s, 3),
            "cores": round(self.cores(), 3),
            "relayed_packets": self.relayed,
            "cpu_us_per_packet": round(self.us_per_pkt(), 3),
            "cpu_s_per_mpkt": round(self.s_per_mpkt(), 3),
        })
    }
}

/// The set-up phase of a `webrtc` run: offer + answer + ICE + DTLS per call.
pub struct SetupFig {
    pub stats: SetupStats,
    pub inflight: usize,
    pub threads: usize,
    /// How the IMS side carries media.
    pub ims: &'static str,
    /// Gateway CPU seconds over the phase, and where they were read.
    pub gw_cpu: Option<(String, f64)>,
    /// The tool's own CPU seconds over the phase (all its threads: ng, ICE, DTLS).
    pub tool_cpu_s: f64,
}

impl SetupFig {
    /// Completed set-ups per second of wall time.
    pub fn rate(&self) -> f64 {
        if self.stats.wall_s > 0.0 {
            self.stats.completed as f64 / self.stats.wall_s
        } else {
            0.0
        }
    }
    fn per_setup_us(&self, cpu_s: f64) -> Option<f64> {
        (self.stats.completed > 0).then(|| cpu_s * 1e6 / self.stats.completed as f64)
    }
    /// Gateway CPU µs per completed set-up.
    pub fn gw_us_per_setup(&self) -> Option<f64> {
        self.gw_cpu
            .as_ref()
            .and_then(|(_, c)| self.per_setup_us(*c))
    }
    /// Set-ups per second one fully busy gateway core would do at that cost.
    pub fn gw_setups_per_core(&self) -> Option<f64> {
        self.gw_us_per_setup().filter(|&u| u > 0.0).map(|u| 1e6 / u)
    }
    pub fn tool_us_per_setup(&self) -> Option<f64> {
        self.per_setup_us(self.tool_cpu_s)
    }
    /// Share of its set-up threads' time the tool spent on the CPU (near 1: the tool, not
    /// the gateway, set the pace).
    pub fn tool_busy(&self) -> f64 {
        let avail = self.stats.wall_s * self.threads.max(1) as f64;
        if avail > 0.0 {
            self.tool_cpu_s / avail
        } else {
            0.0
        }
    }
    fn cores(&self, cpu_s: f64) -> f64 {
        if self.stats.wall_s > 0.0 {
            cpu_s / self.stats.wall_s
        } else {
            0.0
        }
    }

    pub fn human(&self, s: &mut String) {
        let st = &self.stats;
        let _ = writeln!(
            s,
            "\n-- WebRTC set-up: offer + answer + ICE + DTLS (IMS side {}; {} in flight, {} thread{}) --",
            self.ims,
            self.inflight,
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            s,
            "{} of {} calls set up in {:.3} s = {:.0} set-ups/s; {} failed",
            st.completed,
            st.attempted,
            st.wall_s,
            self.rate(),
            st.failed()
        );
        let _ = writeln!(
            s,
            "{:<16} {:>9} {:>9} {:>9} {:>9}",
            "per call (ms)", "mean", "p50", "p99", "max"
        );
        for (name, h) in [
            ("total", &st.total),
            ("offer+answer", &st.signalling),
            ("ICE check", &st.ice),
            ("DTLS handshake", &st.dtls),
        ] {
            let _ = writeln!(
                s,
                "{:<16} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name,
                h.mean() / 1e6,
                h.quantile(0.5) as f64 / 1e6,
                h.quantile(0.99) as f64 / 1e6,
                h.max as f64 / 1e6
            );
        }
        let _ = writeln!(
            s,
            "tool as DTLS client in {} calls (server in the others); ICE checks sent {}; DTLS timers fired {}; DTLS records refused {}; stray datagrams {}",
            st.tool_client, st.stun_checks, st.dtls_retransmit_timers, st.dtls_errors, st.stray
        );
        if !st.suites.is_empty() {
            let suites: Vec<String> = st
                .suites
                .iter()
                .map(|(k, n)| format!("{k} × {n}"))
                .collect();
            let _ = writeln!(s, "SRTP profiles negotiated: {}", suites.join(", "));
        }
        match (&self.gw_cpu, self.gw_us_per_setup()) {
            (Some((src, cpu)), Some(us)) => {
                let _ = writeln!(
                    s,
                    "gateway CPU ({src}): {cpu:.3} CPU-s ({:.2} cores) = {us:.0} CPU-µs per set-up = {:.0} set-ups/s per core",
                    self.cores(*cpu),
                    self.gw_setups_per_core().unwrap_or(0.0)
                );
            }
            (Some((src, cpu)), None) => {
                let _ = writeln!(
                    s,
                    "gateway CPU ({src}): {cpu:.3} CPU-s, no set-up completed"
                );
            }
            (None, _) => {
                let _ = writeln!(s, "gateway CPU: not measured (give --pid)");
            }
        }
        let _ = writeln!(
            s,
            "tool CPU: {:.3} CPU-s ({:.2} cores, set-up threads {:.0} % busy) = {:.0} CPU-µs per set-up",
            self.tool_cpu_s,
            self.cores(self.tool_cpu_s),
            self.tool_busy() * 100.0,
            self.tool_us_per_setup().unwrap_or(0.0)
        );
        for (why, n) in st.failures.iter().take(12) {
            let _ = writeln!(s, "  {n} × {why}");
        }
    }

    pub fn json(&self) -> Json {
        let st = &self.stats;
        let hist = |h: &Hist| {
            json!({
                "mean_ms": round(h.mean() / 1e6, 3),
                "p50_ms": round(h.quantile(0.5) as f64 / 1e6, 3),
                "p99_ms": round(h.quantile(0.99) as f64 / 1e6, 3),
                "max_ms": round(h.max as f64 / 1e6, 3),
            })
        };
        json!({
            "attempted": st.attempted,
            "completed": st.completed,
            "failed": st.failed(),
            "failures": st.failures,
            "inflight": self.inflight,
            "threads": self.threads,
            "ims": self.ims,
            "wall_s": round(st.wall_s, 4),
            "setups_per_s": round(self.rate(), 1),
            "latency": {
                "total": hist(&st.total),
                "offer_answer": hist(&st.signalling),
                "ice": hist(&st.ice),
                "dtls": hist(&st.dtls),
            },
            "tool_dtls_client_calls": st.tool_client,
            "srtp_profiles": st.suites,
            "ice_checks_sent": st.stun_checks,
            "dtls_timers_fired": st.dtls_retransmit_timers,
            "dtls_records_refused": st.dtls_errors,
            "stray_datagrams": st.stray,
            "gateway_cpu": self.gw_cpu.as_ref().map(|(src, cpu)| json!({
                "source": src,
                "cpu_s": round(*cpu, 4),
                "cores": round(self.cores(*cpu), 3),
                "cpu_us_per_setup": self.gw_us_per_setup().map(|u| round(u, 1)),
                "setups_per_s_per_core": self.gw_setups_per_core().map(|r| round(r, 0)),
            })),
            "tool_cpu": {
                "cpu_s": round(self.tool_cpu_s, 4),
                "cores": round(self.cores(self.tool_cpu_s), 3),
                "busy": round(self.tool_busy(), 3),
                "cpu_us_per_setup": self.tool_us_per_setup().map(|u| round(u, 1)),
            },
        })
    }
}

/// The result of a `calls`, `webrtc` or `bare` run.
pub struct LoadReport {
    pub mode: &'static str,
    pub target: String,
    pub calls_requested: usize,
    pub calls_established: usize,
    pub ptime_ms: u32,
    pub duration_s: f64,
    pub setup: Option<EngineStats>,
    /// `webrtc` runs: the whole set-up (ng, ICE, DTLS).
    pub handshake: Option<SetupFig>,
    pub teardown: Option<EngineStats>,
    pub media: Option<MediaResult>,
    pub gw_cpu: Option<CpuFig>,
    /// Extra key/value facts (relay threads, receive buffer size, ...).
    pub facts: Vec<(String, String)>,
    pub process_cpu_s: f64,
    pub warnings: Vec<String>,
}

impl LoadReport {
    pub fn new(
        mode: &'static str,
        target: String,
        calls: usize,
        ptime_ms: u32,
        duration_s: f64,
    ) -> LoadReport {
        LoadReport {
            mode,
            target,
            calls_requested: calls,
            calls_established: 0,
            ptime_ms,
            duration_s,
            setup: None,
            handshake: None,
            teardown: None,
            media: None,
            gw_cpu: None,
            facts: Vec::new(),
            process_cpu_s: 0.0,
            warnings: Vec::new(),
        }
    }

    /// Received packets per second, both directions.
    pub fn pps(&self) -> f64 {
        match &self.media {
            Some(m) if m.send_wall_s > 0.0 => m.received() as f64 / m.send_wall_s,
            _ => 0.0,
        }
    }

    pub fn loss_pct(&self) -> f64 {
        match &self.media {
            Some(m) if m.sent() > 0 => {
                let nr: u64 = m.dirs.iter().map(|d| d.not_received).sum();
                nr as f64 * 100.0 / m.sent() as f64
            }
            _ => 0.0,
        }
    }

    /// Mean stream jitter over both directions (ms).
    pub fn jitter_ms(&self) -> f64 {
        match &self.media {
            Some(m) => (m.dirs[0].jitter_mean_ms + m.dirs[1].jitter_mean_ms) / 2.0,
            None => 0.0,
        }
    }

    /// Mean path jitter (send-timestamp based) over both directions (ms).
    pub fn path_jitter_ms(&self) -> f64 {
        match &self.media {
            Some(m) => (m.dirs[0].path_jitter_mean_ms + m.dirs[1].path_jitter_mean_ms) / 2.0,
            None => 0.0,
        }
    }

    /// Delay quantile over both directions (µs).
    pub fn delay_us(&self, q: f64) -> f64 {
        match &self.media {
            Some(m) => {
                let mut h = m.dirs[0].delay.clone();
                h.merge(&m.dirs[1].delay);
                h.quantile(q) as f64 / 1e3
            }
            None => 0.0,
        }
    }

    pub fn to_json(&self) -> Json {
        let mut o = json!({
            "mode": self.mode,
            "target": self.target,
            "calls_requested": self.calls_requested,
            "calls_established": self.calls_established,
            "ptime_ms": self.ptime_ms,
            "duration_s": self.duration_s,
            "pps": round(self.pps(), 1),
            "loss_pct": round(self.loss_pct(), 4),
            "process_cpu_s": round(self.process_cpu_s, 3),
            "warnings": self.warnings,
        });
        let m = o.as_object_mut().expect("object");
        if let Some(s) = &self.setup {
            m.insert("setup".into(), engine_json(s));
        }
        if let Some(h) = &self.handshake {
            m.insert("webrtc_setup".into(), h.json());
        }
        if let Some(s) = &self.teardown {
            m.insert("teardown".into(), engine_json(s));
        }
        if let Some(md) = &self.media {
            m.insert("media".into(), media_json(md));
        }
        m.insert(
            "gateway_cpu".into(),
            self.gw_cpu.as_ref().map(|c| c.json()).unwrap_or(Json::Null),
        );
        let facts: serde_json::Map<String, Json> = self
            .facts
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect();
        m.insert("facts".into(), Json::Object(facts));
        o
    }

    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== eagw load {} — target {} ==", self.mode, self.target);
        let _ = writeln!(
            s,
            "calls: {} requested, {} established; ptime {} ms; media {:.1} s",
            self.calls_requested, self.calls_established, self.ptime_ms, self.duration_s
        );
        for (k, v) in &self.facts {
            let _ = writeln!(s, "{k}: {v}");
        }
        if let Some(st) = &self.setup {
            let _ = writeln!(s, "\n-- set-up ({:.2} s) --", st.elapsed_s);
            engine_human(&mut s, st, &[Cmd::Offer, Cmd::Answer]);
        }
        if let Some(h) = &self.handshake {
            h.human(&mut s);
        }
        if let Some(md) = &self.media {
            let _ = writeln!(
                s,
                "\n-- media ({:.2} s sending, {:.2} s incl. drain) --",
                md.send_wall_s, md.wall_s
            );
            let _ = writeln!(
                s,
                "{:<16} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "direction", "sent", "received", "lost", "missing", "dup", "reord", "jit ms", "jitmax ms", "pathjit", "dly mean", "dly p50", "dly p99", "dly max"
            );
            for (d, ds) in md.dirs.iter().enumerate() {
                dir_human(&mut s, DIR_NAMES[d], ds);
            }
            let _ = writeln!(
                s,
                "(delays in µs; lost = by RTP sequence, missing = sent - received; jit = RFC 3550 over RTP timestamps,\n \
                 pathjit = the same estimator over the send timestamps, i.e. without the tool's own send lateness)"
            );
            let _ = writeln!(
                s,
                "received {} of {} packets ({:.4} % loss), {:.0} packets/s; misrouted {}, malformed {}, SRTP errors {}, send errors {}",
                md.received(),
                md.sent(),
                self.loss_pct(),
                self.pps(),
                md.misrouted,
                md.malformed,
                md.srtp_errors,
                md.send_errors
            );
            let silent: u64 = md.dirs.iter().map(|d| d.silent_streams).sum();
            if silent > 0 {
                let _ = writeln!(s, "streams that received nothing: {silent}");
            }
            let _ = writeln!(
                s,
                "tool: sender {:.2} CPU-s, receiver {:.2} CPU-s ({:.0} % of a core); sender max lag {:.0} µs beyond pacing, {} sends >5 ms late",
                md.sender_cpu_s,
                md.receiver_cpu_s,
                tool_util(md) * 100.0,
                md.sender_max_lag_us,
                md.late_sends
            );
        }
        if let Some(c) = &self.gw_cpu {
            let _ = writeln!(
                s,
                "relay CPU ({}): {:.3} CPU-s over {:.2} s ({:.2} cores) for {} packets = {:.3} CPU-µs/packet, {:.3} CPU-s per million packets",
                c.source,
                c.cpu_s,
                c.wall_s,
                c.cores(),
                c.relayed,
                c.us_per_pkt(),
                c.s_per_mpkt()
            );
        } else if self.media.is_some() {
            let _ = writeln!(s, "relay CPU: not measured (give --pid)");
        }
        if let Some(st) = &self.teardown {
            let _ = writeln!(s, "\n-- teardown ({:.2} s) --", st.elapsed_s);
            engine_human(&mut s, st, &[Cmd::Delete]);
        }
        let _ = writeln!(
            s,
            "\ntool process CPU (whole run): {:.2} s",
            self.process_cpu_s
        );
        for w in &self.warnings {
            let _ = writeln!(s, "WARNING: {w}");
        }
        s
    }
}

/// Share of one core the tool's media threads used.
pub fn tool_util(md: &MediaResult) -> f64 {
    if md.wall_s > 0.0 {
        md.tool_cpu_s() / md.wall_s
    } else {
        0.0
    }
}

pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn dir_human(s: &mut String, name: &str, d: &DirStats) {
    let _ = writeln!(
        s,
        "{:<16} {:>10} {:>10} {:>8} {:>8} {:>6} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        name,
        d.sent,
        d.received,
        d.lost_by_seq,
        d.not_received,
        d.dups,
        d.reordered,
        d.jitter_mean_ms,
        d.jitter_max_ms,
        d.path_jitter_mean_ms,
        d.delay.mean() / 1e3,
        d.delay.quantile(0.5) as f64 / 1e3,
        d.delay.quantile(0.99) as f64 / 1e3,
        d.delay.max as f64 / 1e3
    );
}

fn dir_json(d: &DirStats) -> Json {
    json!({
        "sent": d.sent,
        "received": d.received,
        "lost": d.lost_by_seq,
        "not_received": d.not_received,
        "loss_pct": if d.sent > 0 { round(d.not_received as f64 * 100.0 / d.sent as f64, 4) } else { 0.0 },
        "duplicates": d.dups,
        "reordered": d.reordered,
        "late": d.late,
        "silent_streams": d.silent_streams,
        "jitter_mean_ms": round(d.jitter_mean_ms, 4),
        "jitter_max_ms": round(d.jitter_max_ms, 4),
        "path_jitter_mean_ms": round(d.path_jitter_mean_ms, 4),
        "delay_mean_us": round(d.delay.mean() / 1e3, 2),
        "delay_p50_us": round(d.delay.quantile(0.5) as f64 / 1e3, 2),
        "delay_p99_us": round(d.delay.quantile(0.99) as f64 / 1e3, 2),
        "delay_max_us": round(d.delay.max as f64 / 1e3, 2),
    })
}

fn media_json(m: &MediaResult) -> Json {
    json!({
        "wall_s": round(m.wall_s, 3),
        "send_wall_s": round(m.send_wall_s, 3),
        "sent": m.sent(),
        "received": m.received(),
        "caller_to_callee": dir_json(&m.dirs[0]),
        "callee_to_caller": dir_json(&m.dirs[1]),
        "misrouted": m.misrouted,
        "malformed": m.malformed,
        "srtp_errors": m.srtp_errors,
        "send_errors": m.send_errors,
        "tool_cpu": {
            "sender_cpu_s": round(m.sender_cpu_s, 4),
            "receiver_cpu_s": round(m.receiver_cpu_s, 4),
            "cores": round(tool_util(m), 3),
        },
        "sender_max_lag_us": round(m.sender_max_lag_us, 1),
        "late_sends": m.late_sends,
    })
}

pub fn engine_json(st: &EngineStats) -> Json {
    let mut cmds = serde_json::Map::new();
    for c in Cmd::ALL {
        let cs = st.cmd(c);
        if cs.requests == 0 {
            continue;
        }
        cmds.insert(
            c.name().into(),
            json!({
                "requests": cs.requests,
                "retransmits": cs.retransmits,
                "ok": cs.ok,
                "warnings": cs.warnings,
                "errors": cs.errors,
                "load_limit": cs.load_limit,
                "timeouts": cs.timeouts,
                "bad_replies": cs.bad,
                "latency_p50_ms": round(cs.latency_ms(0.5), 3),
                "latency_p99_ms": round(cs.latency_ms(0.99), 3),
                "latency_max_ms": round(cs.latency_ms(1.0), 3),
            }),
        );
    }
    let reasons: serde_json::Map<String, Json> = st
        .reasons
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "elapsed_s": round(st.elapsed_s, 3),
        "commands": Json::Object(cmds),
        "reasons": Json::Object(reasons),
        "stray_replies": st.stray_replies,
    })
}

pub fn engine_human(s: &mut String, st: &EngineStats, cmds: &[Cmd]) {
    let _ = writeln!(
        s,
        "{:<8} {:>8} {:>7} {:>8} {:>6} {:>6} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "command",
        "requests",
        "retrans",
        "ok",
        "warn",
        "error",
        "limit",
        "timeout",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    for c in cmds {
        let cs = st.cmd(*c);
        let _ = writeln!(
            s,
            "{:<8} {:>8} {:>7} {:>8} {:>6} {:>6} {:>8} {:>8} {:>9.3} {:>9.3} {:>9.3}",
            c.name(),
            cs.requests,
            cs.retransmits,
            cs.ok,
            cs.warnings,
            cs.errors + cs.bad,
            cs.load_limit,
            cs.timeouts,
            cs.latency_ms(0.5),
            cs.latency_ms(0.99),
            cs.latency_ms(1.0)
        );
    }
    let mut shown = 0;
    for (r, n) in &st.reasons {
        let c = cmds.iter().any(|c| r.starts_with(c.name()));
        if c && shown < 8 {
            let _ = writeln!(s, "  {n} × {r}");
            shown += 1;
        }
    }
    if st.stray_replies > 0 {
        let _ = writeln!(s, "  {} stray/duplicate replies", st.stray_replies);
    }
}

/// One row of the compare table.
pub struct CompareRow {
    pub name: String,
    pub calls: usize,
    pub pps: f64,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    pub path_jitter_ms: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub cpu_us_per_pkt: Option<f64>,
    pub ratio: Option<f64>,
}

pub fn compare_rows(runs: &[LoadReport]) -> Vec<CompareRow> {
    let bare = runs
        .iter()
        .find(|r| r.mode == "bare")
        .and_then(|r| r.gw_cpu.as_ref())
        .map(|c| c.us_per_pkt());
    runs.iter()
        .map(|r| {
            let cpu = r.gw_cpu.as_ref().map(|c| c.us_per_pkt());
            CompareRow {
                name: r.target.clone(),
                calls: r.calls_established,
                pps: r.pps(),
                loss_pct: r.loss_pct(),
                jitter_ms: r.jitter_ms(),
                path_jitter_ms: r.path_jitter_ms(),
                p50_us: r.delay_us(0.5),
                p99_us: r.delay_us(0.99),
                cpu_us_per_pkt: cpu,
                ratio: match (cpu, bare) {
                    (Some(c), Some(b)) if b > 0.0 => Some(c / b),
                    _ => None,
                },
            }
        })
        .collect()
}

pub fn compare_human(rows: &[CompareRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<32} {:>6} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10} {:>8}",
        "target",
        "calls",
        "pps",
        "loss %",
        "jit ms",
        "pathjit",
        "p50 µs",
        "p99 µs",
        "CPU µs/pkt",
        "× bare"
    );
    for r in rows {
        let cpu = r
            .cpu_us_per_pkt
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into());
        let ratio = r
            .ratio
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{:<32} {:>6} {:>9.0} {:>8.3} {:>8.3} {:>8.3} {:>9.1} {:>9.1} {:>10} {:>8}",
            r.name,
            r.calls,
            r.pps,
            r.loss_pct,
            r.jitter_ms,
            r.path_jitter_ms,
            r.p50_us,
            r.p99_us,
            cpu,
            ratio
        );
    }
    s
}

pub fn compare_json(rows: &[CompareRow]) -> Json {
    Json::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "target": r.name,
                    "calls": r.calls,
                    "pps": round(r.pps, 1),
                    "loss_pct": round(r.loss_pct, 4),
                    "jitter_ms": round(r.jitter_ms, 4),
                    "path_jitter_ms": round(r.path_jitter_ms, 4),
                    "delay_p50_us": round(r.p50_us, 2),
                    "delay_p99_us": round(r.p99_us, 2),
                    "cpu_us_per_packet": r.cpu_us_per_pkt.map(|c| round(c, 3)),
                    "ratio_to_bare": r.ratio.map(|c| round(c, 3)),
                })
            })
            .collect(),
    )
}

/// A compare run's webrtc calls against the plain calls on the same gateway: what the
/// DTLS-SRTP <-> RTP path (and the WebRTC set-up) costs the gateway. With several rounds the
/// figures are pooled (total CPU over total packets) and each round's difference is kept, so
/// the spread shows how much of the difference is noise.
pub struct WebrtcDelta {
    /// The media path of the webrtc calls, e.g. `DTLS-SRTP <-> RTP`.
    pub path: String,
    /// Per round: (plain, webrtc) gateway CPU µs per packet.
    pub rounds: Vec<(f64, f64)>,
    pub plain_us: f64,
    pub webrtc_us: f64,
    pub plain_loss_pct: f64,
    pub webrtc_loss_pct: f64,
    pub setups_per_s: f64,
    pub gw_us_per_setup: Option<f64>,
    pub tool_us_per_setup: Option<f64>,
}

/// Total gateway CPU-µs per relayed packet over several runs.
fn pooled_us(runs: &[&LoadReport]) -> Option<f64> {
    let (mut cpu, mut pkts) = (0.0, 0u64);
    for r in runs {
        let c = r.gw_cpu.as_ref()?;
        cpu += c.cpu_s;
        pkts += c.relayed;
    }
    (pkts > 0).then(|| cpu * 1e6 / pkts as f64)
}

/// Sent-but-not-received over sent, in %, over several runs.
fn pooled_loss_pct(runs: &[&LoadReport]) -> f64 {
    let (mut lost, mut sent) = (0u64, 0u64);
    for m in runs.iter().filter_map(|r| r.media.as_ref()) {
        lost += m.dirs.iter().map(|d| d.not_received).sum::<u64>();
        sent += m.sent();
    }
    if sent > 0 {
        lost as f64 * 100.0 / sent as f64
    } else {
        0.0
    }
}

impl WebrtcDelta {
    /// From the plain (`calls`) and `webrtc` runs on one gateway, round by round; None unless
    /// every run measured the gateway's CPU.
    pub fn of(plain: &[&LoadReport], web: &[&LoadReport]) -> Option<WebrtcDelta> {
        if plain.is_empty() || plain.len() != web.len() {
            return None;
        }
        let rounds = plain
            .iter()
            .zip(web)
            .map(|(p, w)| {
                Some((
                    p.gw_cpu.as_ref()?.us_per_pkt(),
                    w.gw_cpu.as_ref()?.us_per_pkt(),
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        let setups: Vec<&SetupFig> = web.iter().filter_map(|w| w.handshake.as_ref()).collect();
        let completed: usize = setups.iter().map(|s| s.stats.completed).sum();
        let wall: f64 = setups.iter().map(|s| s.stats.wall_s).sum();
        let per_setup = |cpu: f64| (completed > 0).then(|| cpu * 1e6 / completed as f64);
        let gw_cpu: Option<f64> = setups
            .iter()
            .map(|s| s.gw_cpu.as_ref().map(|(_, c)| *c))
            .sum();
        let ims = setups.first().map_or("RTP", |s| s.ims);
        Some(WebrtcDelta {
            path: format!("DTLS-SRTP <-> {ims}"),
            rounds,
            plain_us: pooled_us(plain)?,
            webrtc_us: pooled_us(web)?,
            plain_loss_pct: pooled_loss_pct(plain),
            webrtc_loss_pct: pooled_loss_pct(web),
            setups_per_s: if wall > 0.0 {
                completed as f64 / wall
            } else {
                0.0
            },
            gw_us_per_setup: gw_cpu.and_then(per_setup),
            tool_us_per_setup: per_setup(setups.iter().map(|s| s.tool_cpu_s).sum()),
        })
    }

    /// Extra gateway CPU µs per packet of the webrtc path over plain RTP.
    pub fn extra_us(&self) -> f64 {
        self.webrtc_us - self.plain_us
    }

    pub fn ratio(&self) -> Option<f64> {
        (self.plain_us > 0.0).then(|| self.webrtc_us / self.plain_us)
    }

    pub fn human(&self) -> String {
        let mut s = String::new();
        let n = self.rounds.len();
        let _ = writeln!(
            s,
            "{} (webrtc) vs plain RTP calls on the same gateway{}: {:.2} vs {:.2} CPU-µs/packet = {:+.2} µs/packet ({}); loss {:.4} % vs {:.4} %",
            self.path,
            if n > 1 { format!(", {n} rounds pooled") } else { String::new() },
            self.webrtc_us,
            self.plain_us,
            self.extra_us(),
            self.ratio()
                .map_or_else(|| "-".into(), |r| format!("{r:.2}× plain")),
            self.webrtc_loss_pct,
            self.plain_loss_pct
        );
        if n > 1 {
            let each: Vec<String> = self
                .rounds
                .iter()
                .map(|(p, w)| format!("{:+.2}", w - p))
                .collect();
            let _ = writeln!(s, "extra µs/packet per round: {}", each.join(", "));
        }
        let _ = writeln!(
            s,
            "webrtc set-up: {:.0} set-ups/s; gateway {} CPU-µs per set-up; tool {} CPU-µs per set-up",
            self.setups_per_s,
            self.gw_us_per_setup
                .map_or_else(|| "-".into(), |u| format!("{u:.0}")),
            self.tool_us_per_setup
                .map_or_else(|| "-".into(), |u| format!("{u:.0}"))
        );
        s
    }

    pub fn json(&self) -> Json {
        json!({
            "path": self.path,
            "plain_cpu_us_per_packet": round(self.plain_us, 3),
            "webrtc_cpu_us_per_packet": round(self.webrtc_us, 3),
            "extra_cpu_us_per_packet": round(self.extra_us(), 3),
            "ratio_to_plain": self.ratio().map(|r| round(r, 3)),
            "rounds": self.rounds.iter().map(|(p, w)| json!({
                "plain_cpu_us_per_packet": round(*p, 3),
                "webrtc_cpu_us_per_packet": round(*w, 3),
            })).collect::<Vec<_>>(),
            "plain_loss_pct": round(self.plain_loss_pct, 4),
            "webrtc_loss_pct": round(self.webrtc_loss_pct, 4),
            "setups_per_s": round(self.setups_per_s, 1),
            "gateway_cpu_us_per_setup": self.gw_us_per_setup.map(|u| round(u, 1)),
            "tool_cpu_us_per_setup": self.tool_us_per_setup.map(|u| round(u, 1)),
        })
    }
}

/// The result of an `ng-rate` run.
pub struct RateReport {
    pub target: String,
    pub calls: usize,
    pub inflight: usize,
    pub completed: u64,
    pub failed: u64,
    pub stats: EngineStats,
    pub process_cpu_s: f64,
}

impl RateReport {
    pub fn calls_per_s(&self) -> f64 {
        if self.stats.elapsed_s > 0.0 {
            self.completed as f64 / self.stats.elapsed_s
        } else {
            0.0
        }
    }
    pub fn to_json(&self) -> Json {
        json!({
            "mode": "ng-rate",
            "target": self.target,
            "calls": self.calls,
            "inflight": self.inflight,
            "completed": self.completed,
            "failed": self.failed,
            "calls_per_s": round(self.calls_per_s(), 1),
            "requests_per_s": round(self.requests_per_s(), 1),
            "ng": engine_json(&self.stats),
            "process_cpu_s": round(self.process_cpu_s, 3),
        })
    }
    fn requests_per_s(&self) -> f64 {
        let n: u64 = self.stats.cmds.iter().map(|c| c.requests).sum();
        if self.stats.elapsed_s > 0.0 {
            n as f64 / self.stats.elapsed_s
        } else {
            0.0
        }
    }
    pub fn human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== eagw load ng-rate — target {} ==", self.target);
        let _ = writeln!(
            s,
            "{} calls (offer+answer+delete), window {}: {} completed, {} failed in {:.2} s = {:.0} calls/s ({:.0} requests/s)",
            self.calls,
            self.inflight,
            self.completed,
            self.failed,
            self.stats.elapsed_s,
            self.calls_per_s(),
            self.requests_per_s()
        );
        engine_human(&mut s, &self.stats, &Cmd::ALL);
        let _ = writeln!(s, "tool process CPU: {:.2} s", self.process_cpu_s);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::webrtc::SetupStats;

    fn fig(completed: usize, wall_s: f64, gw: Option<f64>, tool: f64, threads: usize) -> SetupFig {
        let stats = SetupStats {
            attempted: completed + 1,
            completed,
            wall_s,
            ..SetupStats::default()
        };
        SetupFig {
            stats,
            inflight: 64,
            threads,
            ims: "RTP",
            gw_cpu: gw.map(|c| ("test".into(), c)),
            tool_cpu_s: tool,
        }
    }

    #[test]
    fn setup_figures() {
        let f = fig(500, 0.5, Some(0.2), 0.45, 1);
        assert_eq!(f.rate(), 1000.0);
        assert!((f.gw_us_per_setup().unwrap() - 400.0).abs() < 1e-9);
        assert!((f.gw_setups_per_core().unwrap() - 2500.0).abs() < 1e-6);
        assert!((f.tool_us_per_setup().unwrap() - 900.0).abs() < 1e-9);
        assert!((f.tool_busy() - 0.9).abs() < 1e-9);
        assert!((fig(500, 0.5, None, 0.45, 2).tool_busy() - 0.45).abs() < 1e-9);
        let none = fig(0, 0.0, Some(0.1), 0.0, 1);
        assert_eq!(
            (
                none.rate(),
                none.gw_us_per_setup(),
                none.gw_setups_per_core()
            ),
            (0.0, None, None)
        );
        let mut s = String::new();
        f.human(&mut s);
        assert!(
            s.contains("1000 set-ups/s") && s.contains("400 CPU-µs per set-up"),
            "{s}"
        );
        let j = f.json();
        assert_eq!(j["gateway_cpu"]["cpu_us_per_setup"], json!(400.0));
        assert_eq!(j["setups_per_s"], json!(1000.0));
    }

    #[test]
    fn webrtc_delta_needs_both_runs() {
        let cpu = |cpu_s: f64| CpuFig {
            source: "t".into(),
            cpu_s,
            wall_s: 1.0,
            relayed: 1_000_000,
        };
        let mut plain = LoadReport::new("calls", "gw".into(), 10, 20, 1.0);
        plain.gw_cpu = Some(cpu(5.0));
        let mut web = LoadReport::new("webrtc", "gw webrtc".into(), 10, 20, 1.0);
        web.gw_cpu = Some(cpu(5.8));
        web.handshake = Some(fig(10, 0.01, Some(0.004), 0.004, 1));
        assert!(WebrtcDelta::of(&[&plain], &[]).is_none());
        let unmeasured = LoadReport::new("webrtc", "gw webrtc".into(), 10, 20, 1.0);
        assert!(WebrtcDelta::of(&[&plain], &[&unmeasured]).is_none());
        let d = WebrtcDelta::of(&[&plain], &[&web]).unwrap();
        assert!((d.extra_us() - 0.8).abs() < 1e-9);
        assert!((d.ratio().unwrap() - 1.16).abs() < 1e-9);
        assert_eq!(d.gw_us_per_setup.map(|u| u.round()), Some(400.0));
        assert_eq!(d.path, "DTLS-SRTP <-> RTP");
        assert!(d.human().contains("+0.80 µs/packet"), "{}", d.human());
        // two rounds are pooled: total CPU over total packets, each round's difference kept
        let mut plain2 = LoadReport::new("calls", "gw".into(), 10, 20, 1.0);
        plain2.gw_cpu = Some(CpuFig {
            source: "t".into(),
            cpu_s: 3.0,
            wall_s: 1.0,
            relayed: 500_000,
        });
        let mut web2 = LoadReport::new("webrtc", "gw webrtc".into(), 10, 20, 1.0);
        web2.gw_cpu = Some(CpuFig {
            source: "t".into(),
            cpu_s: 3.0,
            wall_s: 1.0,
            relayed: 500_000,
        });
        let d = WebrtcDelta::of(&[&plain, &plain2], &[&web, &web2]).unwrap();
        assert!((d.plain_us - 8.0 / 1.5).abs() < 1e-9 && (d.webrtc_us - 8.8 / 1.5).abs() < 1e-9);
        assert_eq!(d.rounds.len(), 2);
        assert!(
            d.human().contains("per round: +0.80, +0.00"),
            "{}",
            d.human()
        );
    }
}
