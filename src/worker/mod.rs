//! Worker threads: each owns its sockets, its slice of the port range, its timers and the
//! calls pinned to it. The control plane reaches a worker only through its crossbeam
//! inbox (and an eventfd that wakes the loop); nothing is shared with other workers.
//!
//! The loop: `epoll_wait` → for each readable media socket one `recvfrom`, check
//! (RTP/RTCP? from the latched peer?), one `sendto` out of the paired socket; then the
//! command inbox; then timers (learning windows, media timeouts, delayed deletes).

pub mod playout;
pub mod ports;
pub mod sockets;
pub mod sys;
pub mod turn;

use crate::config::{Config, TimeoutAction};
use crate::session::report::CallReport;
use crate::session::{Call, Interfaces, LearnOpts, MediaSockets, NgError, Options};
pub use crate::stats::WorkerStats;
use crossbeam_channel::{Receiver, Sender};
use sockets::SocketTable;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use sys::{mono_ns, Waker};

/// What the control plane asks of a worker.
#[derive(Debug)]
pub enum Request {
    Offer(Box<Options>),
    Answer(Box<Options>),
    Delete(Box<Options>),
    Query(Box<Options>),
    PlayDtmf(Box<Options>),
    /// `block DTMF` (true) / `unblock DTMF` (false).
    BlockDtmf(Box<Options>, bool),
    List,
    Stats,
    Shutdown,
}

#[derive(Debug)]
pub enum Response {
    Sdp { sdp: String, warnings: Vec<String> },
    /// `delete`: the call's final statistics (None with `fast`), or a warning.
    Deleted { report: Option<CallReport>, warning: Option<String> },
    Query(CallReport),
    List(Vec<String>),
    Stats(WorkerStats),
    Error(NgError),
    Done,
}

pub struct Job {
    pub req: Request,
    /// The largest SDP the transport can carry back (a UDP datagram); an offer for a new
    /// call whose reply would be larger is refused and the call removed.
    pub max_sdp: usize,
    pub reply: tokio::sync::oneshot::Sender<Response>,
}

/// The control plane's handle on a worker.
#[derive(Clone)]
pub struct WorkerHandle {
    tx: Sender<Job>,
    waker: Arc<Waker>,
}

impl WorkerHandle {
    pub fn send(&self, job: Job) -> bool {
        if self.tx.send(job).is_err() {
            return false;
        }
        self.waker.wake();
        true
    }
}

/// What every worker needs from config.
#[derive(Clone)]
pub struct Shared {
    pub ifaces: Interfaces,
    /// eagw's DTLS certificate (one for all workers; its fingerprint is in `ifaces`).
    pub identity: Arc<crate::transport::dtls::Identity>,
    pub sessions: Arc<AtomicUsize>,
    pub max_sessions: usize,
    pub learn: LearnOpts,
    pub timeout_ns: u64,
    pub timeout_action: TimeoutAction,
    /// The TURN server's credentials, policy, limits and quota ledger (None: TURN off).
    pub turn: Option<Arc<crate::turn::server::TurnShared>>,
    /// The TURN TLS listeners' certificate and settings (None: no TLS listener).
    pub turn_tls: Option<Arc<rustls::ServerConfig>>,
}

const WAKE_TOKEN: u64 = u64::MAX;
const PLAYOUT_TOKEN: u64 = u64::MAX - 1;
const TICK_NS: u64 = 100_000_000;

pub struct Worker {
    pub id: usize,
    waker: Arc<Waker>,
    rx: Receiver<Job>,
    pub socks: SocketTable,
    calls: HashMap<String, Call>,
    /// Calls with a `delete delay` pending: call-id → monotonic deadline.
    delete_at: HashMap<String, u64>,
    shared: Shared,
    stats: WorkerStats,
    ticks: u64,
    turn: Option<turn::TurnIo>,
}

impl Worker {
    pub fn new(id: usize, n: usize, cfg: &Config, shared: Shared) -> std::io::Result<(Worker, WorkerHandle)> {
        let waker = Arc::new(Waker::new()?);
        let (tx, rx) = crossbeam_channel::unbounded();
        let socks = SocketTable::new(cfg, id, n, shared.identity.clone())?;
        socks.epoll().add(waker.raw(), WAKE_TOKEN)?;
        socks.epoll().add(socks.playout_fd(), PLAYOUT_TOKEN)?;
        let turn = match &shared.turn {
            Some(t) => Some(turn::TurnIo::new(cfg, t.clone(), shared.turn_tls.clone(), id, n, socks.epoll(), mono_ns())?),
            None => None,
        };
        let w = Worker {
            id,
            waker: waker.clone(),
            rx,
            socks,
            calls: HashMap::new(),
            delete_at: HashMap::new(),
            shared,
            stats: WorkerStats::default(),
            ticks: 0,
            turn,
        };
        Ok((w, WorkerHandle { tx, waker }))
    }

    /// Runs the loop until a `Shutdown` request arrives.
    pub fn run(mut self) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let mut buf = vec![0u8; 65536];
        let mut next_tick = mono_ns() + TICK_NS;
        loop {
            let now = mono_ns();
            let timeout = ((next_tick.saturating_sub(now)) / 1_000_000) as i32 + 1;
            let n = self.socks.epoll().wait(&mut events, timeout);
            let now = mono_ns();
            let mut inbox = false;
            for ev in &events[..n] {
                let token = ev.u64;
                if token == WAKE_TOKEN {
                    inbox = true;
                } else if token == PLAYOUT_TOKEN {
                    self.socks.on_playout(&mut self.stats);
                } else if token >= turn::TOKEN_BASE {
                    if let Some(t) = &mut self.turn {
                        t.on_readable(token, &mut buf, now, self.socks.epoll());
                    }
                } else {
                    self.socks.on_readable(token as u32, &mut buf, now, &mut self.stats);
                }
            }
            if let Some(t) = &mut self.turn {
                t.flush(); // datagrams to TURN clients queued this round, one sendmmsg per listener
            }
            if inbox {
                self.waker.drain();
                while let Ok(job) = self.rx.try_recv() {
                    if matches!(job.req, Request::Shutdown) {
                        self.shutdown();
                        let _ = job.reply.send(Response::Done);
                        return;
                    }
                    // a bug in one command's handling must not take the worker's other
                    // calls down: it becomes an error reply and a log line
                    let resp = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.handle(job.req, job.max_sdp, now)
                    }))
                    .unwrap_or_else(|_| {
                        self.stats.errors += 1;
                        tracing::error!(worker = self.id, "internal error while handling a command");
                        Response::Error(NgError::new("internal error"))
                    });
                    let _ = job.reply.send(resp);
                }
            }
            if now >= next_tick {
                self.tick(now);
                next_tick = now + TICK_NS;
            }
        }
    }

    fn shutdown(&mut self) {
        if let Some(t) = &mut self.turn {
            t.shutdown(self.socks.epoll());
        }
        for (_, mut c) in self.calls.drain() {
            c.close(&mut self.socks);
            self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn remove_call(&mut self, id: &str) -> Option<Call> {
        let mut c = self.calls.remove(id)?;
        self.delete_at.remove(id);
        c.close(&mut self.socks);
        self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
        self.stats.calls_deleted += 1;
        Some(c)
    }

    /// Handles one command; state changes happen here, in the worker that owns the call.
    pub fn handle(&mut self, req: Request, max_sdp: usize, now: u64) -> Response {
        match req {
            Request::Offer(o) => self.offer(&o, max_sdp, now),
            Request::Answer(o) => {
                let Some(call) = self.calls.get_mut(&o.call_id) else {
                    return Response::Error(NgError::new("Unknown call-id"));
                };
                match call.answer(&o, &self.shared.ifaces, &mut self.socks, now) {
                    Ok(sdp) if sdp.len() > max_sdp => Response::Error(NgError::new(format!(
                        "rewritten SDP ({} bytes) does not fit one UDP datagram; use TCP-ng or HTTP",
                        sdp.len()
                    ))),
                    Ok(sdp) => Response::Sdp { sdp, warnings: with_notes(&o.warnings, call) },
                    Err(e) => Response::Error(e),
                }
            }
            Request::Delete(o) => self.delete(&o, now),
            Request::Query(o) => match self.calls.get(&o.call_id) {
                Some(c) => Response::Query(c.report(&self.socks, now)),
                None => Response::Error(NgError::new("Unknown call-id")),
            },
            Request::BlockDtmf(o, on) => match self.calls.get(&o.call_id) {
                Some(c) => match c.block_dtmf(&o, on, &mut self.socks) {
                    Ok(()) => Response::Done,
                    Err(e) => Response::Error(e),
                },
                None => Response::Error(NgError::new("Unknown call-id")),
            },
            Request::PlayDtmf(o) => match self.calls.get(&o.call_id) {
                Some(c) => match c.play_dtmf(&o, &mut self.socks) {
                    Ok(_) => Response::Done,
                    Err(e) => Response::Error(e),
                },
                None => Response::Error(NgError::new("Unknown call-id")),
            },
            Request::List => Response::List(self.calls.keys().cloned().collect()),
            Request::Stats => Response::Stats(self.snapshot()),
            Request::Shutdown => Response::Done,
        }
    }

    fn offer(&mut self, o: &Options, max_sdp: usize, now: u64) -> Response {
        let new = !self.calls.contains_key(&o.call_id);
        if new {
            let n = self.shared.sessions.fetch_add(1, Ordering::Relaxed);
            if self.shared.max_sessions != 0 && n >= self.shared.max_sessions {
                self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
                return Response::Error(NgError {
                    reason: "Parallel session limit reached".into(),
                    load_limit: o.supports_load_limit,
                });
            }
            self.calls.insert(o.call_id.clone(), Call::new(&o.call_id, self.shared.learn, now));
            self.stats.calls_created += 1;
        }
        let result = match self.calls.get_mut(&o.call_id) {
            Some(call) => call.offer(o, &self.shared.ifaces, &mut self.socks, now),
            None => Err(NgError::new("internal: call vanished")),
        };
        match result {
            Ok(sdp) if sdp.len() > max_sdp => {
                if new {
                    self.remove_call(&o.call_id);
                }
                Response::Error(NgError::new(format!(
                    "rewritten SDP ({} bytes) does not fit one UDP datagram; use TCP-ng or HTTP",
                    sdp.len()
                )))
            }
            Ok(sdp) => {
                let warnings = match self.calls.get_mut(&o.call_id) {
                    Some(call) => with_notes(&o.warnings, call),
                    None => o.warnings.clone(),
                };
                Response::Sdp { sdp, warnings }
            }
            Err(e) => {
                if new {
                    self.remove_call(&o.call_id);
                }
                Response::Error(e)
            }
        }
    }

    fn delete(&mut self, o: &Options, now: u64) -> Response {
        let Some(call) = self.calls.get_mut(&o.call_id) else {
            if o.fatal {
                return Response::Error(NgError::new("Call-ID not found"));
            }
            return Response::Deleted { report: None, warning: Some("Call-ID not found".into()) };
        };
        // a branch that never answered can be deleted on its own by its via-branch, when
        // the call has other branches (or an answered leg) left
        if let Some(v) = &o.via_branch {
            let doomed: Vec<usize> = (0..call.legs.len())
                .filter(|&i| call.legs[i].via_branch.as_ref() == Some(v) && call.legs[i].tag.is_empty())
                .collect();
            let caller = call.find_leg(&o.from_tag);
            let others = (0..call.legs.len()).filter(|i| !doomed.contains(i) && Some(*i) != caller).count();
            if !doomed.is_empty() && others > 0 {
                let report = (!o.fast).then(|| call.report(&self.socks, now));
                for &i in &doomed {
                    for m in &mut call.legs[i].medias {
                        for p in [m.rtp.take(), m.rtcp.take()].into_iter().flatten() {
                            self.socks.close(p.handle);
                        }
                    }
                    call.legs[i].medias.clear();
                }
                return Response::Deleted { report, warning: None };
            }
        }
        if let Some(d) = o.delete_delay.filter(|&d| d > 0) {
            let report = (!o.fast).then(|| call.report(&self.socks, now));
            self.delete_at.insert(o.call_id.clone(), now + d * 1_000_000_000);
            return Response::Deleted { report, warning: None };
        }
        let report = (!o.fast).then(|| call.report(&self.socks, now));
        self.remove_call(&o.call_id);
        Response::Deleted { report, warning: None }
    }

    fn tick(&mut self, now: u64) {
        self.socks.tick(now, &mut self.stats);
        let due: Vec<String> = self.delete_at.iter().filter(|(_, &t)| now >= t).map(|(k, _)| k.clone()).collect();
        for id in due {
            self.remove_call(&id);
        }
        self.ticks += 1;
        if self.ticks % 10 == 0 {
            self.socks.sweep_consent(now, &mut self.stats);
            if let Some(t) = &mut self.turn {
                t.tick(now, self.socks.epoll());
            }
        }
        if self.shared.timeout_ns == 0 || self.ticks % 10 != 0 {
            return;
        }
        let mut timed_out = vec![];
        for (id, c) in &mut self.calls {
            if c.timed_out {
                continue;
            }
            let last = c.last_packet_ns(&self.socks).max(c.last_activity_ns);
            if now.saturating_sub(last) >= self.shared.timeout_ns {
                c.timed_out = true;
                timed_out.push(id.clone());
            }
        }
        for id in timed_out {
            self.stats.calls_timed_out += 1;
            tracing::info!(call_id = %id, worker = self.id, "media timeout");
            if self.shared.timeout_action == TimeoutAction::Delete {
                self.remove_call(&id);
            }
        }
    }

    pub fn snapshot(&self) -> WorkerStats {
        let mut s = self.stats;
        s.calls = self.calls.len() as u64;
        s.sockets = self.socks.len() as u64;
        s.ports_in_use = self.socks.ports_in_use() as u64;
        s.transcoded_streams = self.socks.transcoded() as u64;
        if let Some(t) = &self.turn {
            s.turn = t.stats();
        }
        s
    }

    pub fn call_count(&self) -> usize {
        self.calls.len()
    }
}

/// The parser's warnings and what the call noted while handling the command.
fn with_notes(warnings: &[String], call: &mut Call) -> Vec<String> {
    let mut w = warnings.to_vec();
    w.append(&mut call.notes);
    w
}

/// Starts the configured number of workers; returns their handles and threads.
pub fn spawn(cfg: &Config, sessions: Arc<AtomicUsize>) -> std::io::Result<(Vec<WorkerHandle>, Vec<std::thread::JoinHandle<()>>)> {
    let n = cfg.worker_count();
    let identity = match cfg.media.dtls_certificate.as_str() {
        "" => crate::transport::dtls::Identity::generate(),
        path => std::fs::read_to_string(path)
            .map_err(|e| format!("dtls_certificate {path}: {e}"))
            .and_then(|pem| crate::transport::dtls::Identity::from_pem(&pem)),
    };
    let identity = Arc::new(identity.map_err(std::io::Error::other)?);
    tracing::info!(fingerprint = %identity.fingerprint, "DTLS certificate");
    let shared = Shared {
        ifaces: interfaces(cfg, &identity.fingerprint),
        identity,
        sessions,
        max_sessions: cfg.general.max_sessions,
        learn: LearnOpts {
            mode: cfg.media.endpoint_learning,
            handover: false,
            asymmetric: false,
        },
        timeout_ns: cfg.media.timeout_secs * 1_000_000_000,
        timeout_action: cfg.media.timeout_action,
        turn: crate::turn::shared(cfg).map_err(std::io::Error::other)?,
        turn_tls: None,
    };
    let mut shared = shared;
    if shared.turn.is_some() {
        let t = &cfg.turn;
        tracing::info!(udp = ?Config::addrs(&t.listen_udp), tcp = ?Config::addrs(&t.listen_tcp), tls = ?Config::addrs(&t.listen_tls), relay = ?(t.relay_v4(), t.relay_v6()), "TURN server");
        if !t.listen_tls.is_empty() {
            let (tls, fingerprint) = crate::turn::tls::server_config(&t.tls_cert, &t.tls_key).map_err(std::io::Error::other)?;
            let source = if t.tls_cert.is_empty() { "self-signed, generated at start" } else { t.tls_cert.as_str() };
            tracing::info!(%fingerprint, source, "TURN TLS certificate");
            shared.turn_tls = Some(tls);
        }
    }
    let mut handles = vec![];
    let mut threads = vec![];
    for id in 0..n {
        let (w, h) = Worker::new(id, n, cfg, shared.clone())?;
        handles.push(h);
        let (policy, priority) = (cfg.general.worker_scheduling, cfg.general.worker_priority);
        threads.push(std::thread::Builder::new().name(format!("eagw-worker-{id}")).spawn(move || {
            let mut w = w;
            if policy != crate::config::Scheduling::Other {
                match sys::set_scheduling(policy, priority) {
                    Ok(()) => {
                        w.stats.realtime_workers = 1;
                        tracing::info!(worker = id, ?policy, priority, "real-time scheduling")
                    }
                    Err(e) => tracing::warn!(
                        worker = id, ?policy, priority, error = %e,
                        "worker_scheduling not applied, the worker runs time-shared (needs CAP_SYS_NICE or an RLIMIT_RTPRIO, systemd LimitRTPRIO=)"
                    ),
                }
            }
            w.run()
        })?);
    }
    Ok((handles, threads))
}

pub fn interfaces(cfg: &Config, fingerprint: &str) -> Interfaces {
    Interfaces {
        fingerprint: fingerprint.to_string(),
        names: cfg.interfaces.iter().map(|i| i.get_ref().name.clone()).collect(),
        families: cfg.interfaces.iter().map(|i| (i.get_ref().address.is_some(), i.get_ref().address6.is_some())).collect(),
    }
}
