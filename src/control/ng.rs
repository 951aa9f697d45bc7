//! ng command dispatch: a decoded request dictionary in, a reply dictionary out.
//! Commands for one call go to the worker that owns it (hash of the Call-ID); `list` and
//! `statistics` ask every worker and merge.

use super::bencode::{DictBuilder, Value};
use super::flags::{norm, parse_options};
use crate::session::report::{CallReport, StreamReport};
use crate::session::{Counters, NgError};
use crate::worker::{Job, Request, Response, WorkerHandle, WorkerStats};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The largest SDP that fits a UDP reply (65,507 bytes of IPv4 UDP payload, less room for
/// the cookie and the rest of the dictionary).
pub const MAX_UDP_SDP: usize = 65_507 - 512;
/// Over TCP-ng and HTTP the limit is the SDP parser's.
pub const MAX_STREAM_SDP: usize = crate::sdp::MAX_SDP_BYTES;

const COMMANDS: &[&str] =
    &["ping", "offer", "answer", "delete", "query", "list", "statistics", "play-dtmf", "block-dtmf", "unblock-dtmf"];

#[derive(Default)]
pub struct ControlStats {
    pub per_command: [AtomicU64; 10],
    pub errors: AtomicU64,
    pub malformed: AtomicU64,
    pub retransmissions: AtomicU64,
    pub load_limited: AtomicU64,
}

pub struct Dispatcher {
    workers: Vec<WorkerHandle>,
    pub stats: ControlStats,
    started: Instant,
}

pub fn error(reason: impl Into<String>) -> Value {
    DictBuilder::new().str("result", "error").str("error-reason", reason.into()).build()
}

fn worker_for(call_id: &str, n: usize) -> usize {
    // FNV-1a: stable across runs and processes
    let mut h: u64 = 0xcbf29ce484222325;
    for b in call_id.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h % n as u64) as usize
}

impl Dispatcher {
    pub fn new(workers: Vec<WorkerHandle>) -> Dispatcher {
        Dispatcher { workers, stats: ControlStats::default(), started: Instant::now() }
    }

    async fn ask(&self, w: usize, req: Request, max_sdp: usize) -> Response {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if !self.workers[w].send(Job { req, max_sdp, reply: tx }) {
            return Response::Error(NgError::new("worker is gone"));
        }
        rx.await.unwrap_or_else(|_| Response::Error(NgError::new("worker dropped the request")))
    }

    /// Handles one request. `max_sdp` is the largest SDP the transport can carry back.
    pub async fn dispatch(&self, req: &Value, max_sdp: usize) -> Value {
        let reply = self.dispatch_inner(req, max_sdp).await;
        if reply.get("result").and_then(Value::as_str) == Some("error") {
            self.stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        reply
    }

    async fn dispatch_inner(&self, req: &Value, max_sdp: usize) -> Value {
        if req.as_dict().is_none() {
            return error("message is not a dictionary");
        }
        let cmd = match req.get("command").and_then(Value::as_str) {
            Some(c) => norm(c),
            None => return error("No command in message"),
        };
        let Some(idx) = COMMANDS.iter().position(|c| *c == cmd) else {
            return error(format!("Unrecognized command {cmd:?}"));
        };
        self.stats.per_command[idx].fetch_add(1, Ordering::Relaxed);
        if cmd == "ping" {
            return DictBuilder::new().str("result", "pong").build();
        }
        let o = match parse_options(req) {
            Ok(o) => o,
            Err(e) => return error(e),
        };
        match cmd.as_str() {
            "list" => {
                let limit = o.limit.unwrap_or(32) as usize;
                let mut calls = vec![];
                for w in 0..self.workers.len() {
                    if let Response::List(l) = self.ask(w, Request::List, max_sdp).await {
                        calls.extend(l);
                    }
                }
                calls.truncate(limit);
                return DictBuilder::new()
                    .str("result", "ok")
                    .val("calls", Value::List(calls.into_iter().map(Value::str).collect()))
                    .build();
            }
            "statistics" => return self.statistics().await,
            _ => {}
        }
        if o.call_id.is_empty() {
            return error("No call-id in message");
        }
        if matches!(cmd.as_str(), "offer" | "answer") {
            if o.from_tag.is_empty() {
                return error("No from-tag in message");
            }
            if o.sdp.is_none() {
                return error("No SDP body in message");
            }
        }
        if cmd == "answer" && o.to_tag.as_deref().map_or(true, str::is_empty) {
            return error("No to-tag in message");
        }
        let w = worker_for(&o.call_id, self.workers.len());
        let boxed = Box::new(o);
        let req = match cmd.as_str() {
            "offer" => Request::Offer(boxed),
            "answer" => Request::Answer(boxed),
            "delete" => Request::Delete(boxed),
            "play-dtmf" => Request::PlayDtmf(boxed),
            "block-dtmf" => Request::BlockDtmf(boxed, true),
            "unblock-dtmf" => Request::BlockDtmf(boxed, false),
            _ => Request::Query(boxed),
        };
        match self.ask(w, req, max_sdp).await {
            Response::Sdp { sdp, warnings } => {
                let mut d = DictBuilder::new().str("result", "ok").str("sdp", sdp);
                if !warnings.is_empty() {
                    d = d.str("warning", warnings.join("; "));
                }
                d.build()
            }
            Response::Deleted { report, warning } => {
                let mut d = match report {
                    Some(r) => call_report(&r),
                    None => vec![(b"result".to_vec(), Value::str("ok"))],
                };
                if let Some(w) = warning {
                    d.push((b"warning".to_vec(), Value::str(w)));
                }
                Value::Dict(d)
            }
            Response::Query(r) => Value::Dict(call_report(&r)),
            Response::Done => DictBuilder::new().str("result", "ok").build(),
            Response::Error(e) if e.load_limit => {
                self.stats.load_limited.fetch_add(1, Ordering::Relaxed);
                DictBuilder::new().str("result", "load limit").str("message", e.reason).build()
            }
            Response::Error(e) => error(e.reason),
            _ => error("internal: unexpected worker response"),
        }
    }

    /// Stops every worker (each closes its calls); returns how many calls were open.
    pub async fn shutdown(&self) -> u64 {
        let calls = self.worker_stats().await.calls;
        for w in 0..self.workers.len() {
            self.ask(w, Request::Shutdown, 0).await;
        }
        calls
    }

    pub async fn worker_stats(&self) -> WorkerStats {
        let mut total = WorkerStats::default();
        for w in 0..self.workers.len() {
            if let Response::Stats(s) = self.ask(w, Request::Stats, 0).await {
                total.merge(&s);
            }
        }
        total
    }

    async fn statistics(&self) -> Value {
        let s = self.worker_stats().await;
        let c = &self.stats;
        let i = |v: u64| Value::int(v.min(i64::MAX as u64) as i64);
        let current = DictBuilder::new()
            .val("sessionsown", i(s.calls))
            .val("sessionsforeign", i(0))
            .val("sessionstotal", i(s.calls))
            .val("transcodedmedia", i(s.transcoded_streams))
            .val("portsinuse", i(s.ports_in_use))
            .build();
        let total = DictBuilder::new()
            .val("uptime", i(self.started.elapsed().as_secs()))
            .val("managedsessions", i(s.calls_created))
            .val("deletedsessions", i(s.calls_deleted))
            .val("timeoutsessions", i(s.calls_timed_out))
            .val("rejectedsessions", i(c.load_limited.load(Ordering::Relaxed)))
            .val("relayedpackets", i(s.packets_relayed))
            .val("relayedbytes", i(s.bytes_relayed))
            .val("junkpackets", i(s.junk))
            .val("foreignpackets", i(s.foreign))
            .val("learningdrops", i(s.learning_drops))
            .val("undeliverablepackets", i(s.undeliverable))
            .val("srtperrors", i(s.srtp_errors))
            .val("icechecks", i(s.ice_checks))
            .val("stunerrors", i(s.stun_errors))
            .val("dtlshandshakes", i(s.dtls_handshakes))
            .val("dtlsfailures", i(s.dtls_failures))
            .val("dtlserrors", i(s.dtls_errors))
            .val("consentexpired", i(s.consent_expired))
            .val("rtcpgenerated", i(s.rtcp_generated))
            .val("rtcpconsumed", i(s.rtcp_consumed))
            .val("rtcperrors", i(s.rtcp_errors))
            .val("transcodedframes", i(s.transcoded_frames))
            .val("concealedframes", i(s.concealed_frames))
            .val("lateframes", i(s.late_frames))
            .val("transcodeerrors", i(s.transcode_errors))
            .val("dtmfevents", i(s.dtmf_events))
            .val("dtmftones", i(s.dtmf_tones))
            .val("dtmfdetected", i(s.dtmf_detected))
            .val("dtmfplayed", i(s.dtmf_played))
            .val("dtmfblocked", i(s.dtmf_blocked))
            .val("errors", i(s.errors))
            .build();
        let mut ctl = DictBuilder::new();
        for (k, n) in COMMANDS.iter().zip(&c.per_command) {
            ctl = ctl.val(*k, i(n.load(Ordering::Relaxed)));
        }
        let ctl = ctl
            .val("errors", i(c.errors.load(Ordering::Relaxed)))
            .val("malformed", i(c.malformed.load(Ordering::Relaxed)))
            .val("retransmissions", i(c.retransmissions.load(Ordering::Relaxed)))
            .build();
        DictBuilder::new()
            .str("result", "ok")
            .val(
                "statistics",
                DictBuilder::new()
                    .val("currentstatistics", current)
                    .val("totalstatistics", total)
                    .val("controlstatistics", ctl)
                    .build(),
            )
            .build()
    }
}

fn counters(c: &Counters) -> Value {
    let i = |v: u64| Value::int(v.min(i64::MAX as u64) as i64);
    DictBuilder::new().val("packets", i(c.packets)).val("bytes", i(c.bytes)).val("errors", i(c.errors)).build()
}

fn endpoint(a: &SocketAddr) -> Value {
    DictBuilder::new()
        .str("family", if a.is_ipv4() { "IPv4" } else { "IPv6" })
        .str("address", a.ip().to_string())
        .int("port", a.port() as i64)
        .build()
}

fn stream(s: &StreamReport) -> Value {
    let mut d = DictBuilder::new()
        .int("local port", s.local.port() as i64)
        .str("local address", s.local.ip().to_string())
        .str("family", if s.local.is_ipv4() { "IPv4" } else { "IPv6" })
        .val("advertised local endpoint", endpoint(&s.advertised));
    if let Some(e) = &s.endpoint {
        d = d.val("endpoint", endpoint(e));
    }
    if let Some(e) = &s.sdp_endpoint {
        d = d.val("advertised endpoint", endpoint(e));
    }
    if let Some(c) = s.crypto_suite {
        d = d.str("crypto suite", c);
    }
    if let Some(w) = &s.webrtc {
        d = d
            .str("DTLS", w.dtls.as_str())
            .int("DTLS errors", w.dtls_errors.min(i64::MAX as u64) as i64)
            .int("ICE checks", w.ice_checks.min(i64::MAX as u64) as i64)
            .int("STUN errors", w.stun_errors.min(i64::MAX as u64) as i64);
    }
    if let Some(g) = &s.rtcp_gen {
        let n = |v: u64| Value::int(v.min(i64::MAX as u64) as i64);
        let mut r = DictBuilder::new()
            .val("reports sent", n(g.reports_sent))
            .val("SRs received", n(g.srs_received))
            .val("RRs received", n(g.rrs_received))
            .int("lost", g.lost)
            .int("highest seq", g.highest_seq as i64)
            .val("jitter us", n(g.jitter_us))
            .int("peer lost", g.remote_lost as i64)
            .int("peer fraction lost", g.remote_fraction_lost as i64);
        if let Some(rtt) = g.rtt_us {
            r = r.val("RTT us", n(rtt));
        }
        d = d.val("generated RTCP", r.build());
    }
    if let Some(x) = &s.transcode {
        let n = |v: u64| Value::int(v.min(i64::MAX as u64) as i64);
        let r = DictBuilder::new()
            .str("codec in", x.codec_in)
            .str("codec out", x.codec_out)
            .val("frames in", n(x.frames_in))
            .val("frames out", n(x.frames_out))
            .val("concealed", n(x.concealed))
            .val("errors", n(x.errors))
            .val("DTMF events", n(x.dtmf_out))
            .int("jitter target ms", x.jitter_target_ms as i64)
            .int("added delay ms", x.added_delay_ms as i64);
        d = d.val("transcoding", r.build());
    }
    d.int("last packet", s.last_packet as i64)
        .val("flags", Value::List(s.flags.iter().map(|f| Value::str(*f)).collect()))
        .val("stats", counters(&s.stats))
        .int("foreign packets", s.foreign.min(i64::MAX as u64) as i64)
        .build()
}

/// The `query`/`delete` reply body (rtpengine's layout).
pub fn call_report(r: &CallReport) -> Vec<(Vec<u8>, Value)> {
    let mut tags = vec![];
    for l in &r.legs {
        let mut d = DictBuilder::new().str("tag", l.tag.clone()).int("created", l.created as i64);
        if let Some(v) = &l.via_branch {
            d = d.str("via-branch", v.clone());
        }
        if let Some(v) = &l.label {
            d = d.str("label", v.clone());
        }
        if !l.aliases.is_empty() {
            d = d.val("tag-aliases", Value::List(l.aliases.iter().map(|a| Value::str(a.clone())).collect()));
        }
        if let Some(p) = &l.in_dialogue_with {
            d = d.str("in dialogue with", p.clone());
        }
        let medias = l
            .medias
            .iter()
            .map(|m| {
                DictBuilder::new()
                    .int("index", m.index as i64)
                    .str("type", m.kind.clone())
                    .str("protocol", m.protocol.clone())
                    .val("flags", Value::List(m.flags.iter().map(|f| Value::str(*f)).collect()))
                    .val("streams", Value::List(m.streams.iter().map(stream).collect()))
                    .build()
            })
            .collect();
        d = d.val("medias", Value::List(medias));
        tags.push((l.tag.as_bytes().to_vec(), d.build()));
    }
    let mut out = vec![
        (b"result".to_vec(), Value::str("ok")),
        (b"created".to_vec(), Value::int((r.created_us / 1_000_000) as i64)),
        (b"created_us".to_vec(), Value::int((r.created_us % 1_000_000) as i64)),
        (b"last signal".to_vec(), Value::int(r.last_signal as i64)),
        (b"tags".to_vec(), Value::Dict(tags)),
        (
            b"totals".to_vec(),
            DictBuilder::new().val("RTP", counters(&r.totals_rtp)).val("RTCP", counters(&r.totals_rtcp)).build(),
        ),
    ];
    if r.timed_out {
        out.push((b"timed out".to_vec(), Value::int(1)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_spread_over_workers() {
        let mut n = [0usize; 2];
        for i in 0..1000 {
            n[worker_for(&format!("call-{i}@host"), 2)] += 1;
        }
        assert!(n[0] > 400 && n[1] > 400, "{n:?}");
    }
}
