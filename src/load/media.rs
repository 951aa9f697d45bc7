//! The media load: paced RTP senders and an epoll receiver that measures loss, duplicates,
//! reordering, RFC 3550 jitter and one-way delay.
//!
//! A leg may be SRTP (a WebRTC leg after DTLS-SRTP, an SDES leg): its sender protects every
//! packet with the leg's `tx` context and its receiver authenticates and decrypts with `rx`
//! before measuring; a packet that fails is counted as an SRTP error, not received.
//!
//! Layout: call `c` has two legs, `legs[2c]` (caller) and `legs[2c+1]` (callee). Stream
//! `s = 2c + d` is sent from leg `2c + d` and received on leg `2c + (1 - d)`; direction
//! `d = 0` is caller→callee and `d = 1` is callee→caller.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::sys::{self, RawAddr};
use crate::transport::srtp::Srtp;

/// Marks our payloads (so stray datagrams are not counted).
const MAGIC: u32 = 0xEA6A_10AD;
const RTP_HDR: usize = 12;
/// Bytes of the payload that carry measurement data.
const INFO_LEN: usize = 28;
pub const MIN_PAYLOAD: usize = INFO_LEN;
const CLOCK_RATE: f64 = 8000.0;
/// Sequence window for duplicate detection (bits).
const WINDOW: i64 = 1024;

pub const DIR_NAMES: [&str; 2] = ["caller->callee", "callee->caller"];

/// One media leg: a bound socket and where the stream it sends goes.
#[derive(Clone, Copy)]
pub struct Leg {
    pub fd: RawFd,
    pub dest: SocketAddr,
}

/// SRTP contexts of one leg: `tx` protects what it sends, `rx` unprotects what it receives.
pub struct LegSrtp {
    pub tx: Srtp,
    pub rx: Srtp,
}

pub struct MediaCfg {
    pub ptime_ms: u32,
    pub duration: Duration,
    /// How long to keep receiving after the last packet was sent.
    pub drain: Duration,
    /// Pacing granularity: the sender wakes at most once per quantum.
    pub quantum_us: u64,
    /// Tags this run's payloads.
    pub run_tag: u32,
}

/// Moments at which the caller samples CPU counters.
pub enum Phase {
    /// Just before the first packet is sent.
    Start,
    /// After the last packet was sent and the drain time has passed.
    End,
}

/// A log-linear histogram (about 3 % resolution) of nanosecond values.
#[derive(Clone)]
pub struct Hist {
    counts: Vec<u64>,
    pub n: u64,
    pub sum: f64,
    pub max: u64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            counts: vec![0; 64 + 58 * 32],
            n: 0,
            sum: 0.0,
            max: 0,
        }
    }
}

impl Hist {
    fn bucket(v: u64) -> usize {
        if v < 64 {
            v as usize
        } else {
            let e = 63 - v.leading_zeros() as usize;
            let sub = ((v >> (e - 5)) & 31) as usize;
            64 + (e - 6) * 32 + sub
        }
    }

    fn bucket_mid(b: usize) -> u64 {
        if b < 64 {
            b as u64
        } else {
            let e = (b - 64) / 32 + 6;
            let sub = ((b - 64) % 32) as u64;
            let lo = (32 + sub) << (e - 5);
            lo + (1u64 << (e - 5)) / 2
        }
    }

    pub fn add(&mut self, v: u64) {
        self.counts[Self::bucket(v)] += 1;
        self.n += 1;
        self.sum += v as f64;
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, o: &Hist) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.n += o.n;
        self.sum += o.sum;
        self.max = self.max.max(o.max);
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// The value at quantile `q` (0..=1).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let target = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        if target == self.n {
            return self.max;
        }
        let mut acc = 0;
        for (b, c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= target {
                return Self::bucket_mid(b).min(self.max);
            }
        }
        self.max
    }
}

/// Receive-side state of one RTP stream.
#[derive(Clone)]
struct RxStream {
    init: bool,
    base: i64,
    max: i64,
    received: u64,
    dups: u64,
    reordered: u64,
    late: u64,
    bits: [u64; (WINDOW / 64) as usize],
    jitter: f64,
    /// The same estimator over send timestamps instead of RTP timestamps: the jitter the path
    /// (gateway) added, without the tool's own send lateness.
    path_jitter_ns: f64,
    last_arr_ns: u64,
    last_ts: u32,
    last_sent_ns: u64,
}

impl RxStream {
    fn new() -> RxStream {
        RxStream {
            init: false,
            base: 0,
            max: 0,
            received: 0,
            dups: 0,
            reordered: 0,
            late: 0,
            bits: [0; (WINDOW / 64) as usize],
            jitter: 0.0,
            path_jitter_ns: 0.0,
            last_arr_ns: 0,
            last_ts: 0,
            last_sent_ns: 0,
        }
    }

    fn bit(ext: i64) -> (usize, u64) {
        let i = ext.rem_euclid(WINDOW) as usize;
        (i / 64, 1u64 << (i % 64))
    }

    /// Accounts one packet; returns false for a duplicate.
    fn on_packet(&mut self, seq: u16, ts: u32, arr_ns: u64, sent_ns: u64) -> bool {
        if !self.init {
            self.init = true;
            self.base = seq as i64;
            self.max = seq as i64;
            let (w, m) = Self::bit(self.max);
            self.bits[w] |= m;
            self.received = 1;
            self.last_arr_ns = arr_ns;
            self.last_ts = ts;
            self.last_sent_ns = sent_ns;
            return true;
        }
        let delta = seq.wrapping_sub(self.max as u16) as i16 as i64;
        let ext = self.max + delta;
        if ext > self.max {
            let adv = ext - self.max;
            if adv >= WINDOW {
                self.bits = [0; (WINDOW / 64) as usize];
            } else {
                for x in self.max + 1..=ext {
                    let (w, m) = Self::bit(x);
                    self.bits[w] &= !m;
                }
            }
            let (w, m) = Self::bit(ext);
            self.bits[w] |= m;
            self.max = ext;
        } else if self.max - ext < WINDOW {
            let (w, m) = Self::bit(ext);
            if self.bits[w] & m != 0 {
                self.dups += 1;
                return false;
            }
            self.bits[w] |= m;
            self.reordered += 1;
        } else {
            // Too old to tell a duplicate from a very late packet.
            self.reordered += 1;
            self.late += 1;
        }
        if ext < self.base {
            self.base = ext;
        }
        self.received += 1;
        // RFC 3550 §6.4.1 / A.8: D = (Rj - Ri) - (Sj - Si) in timestamp units.
        let d_arr = (arr_ns - self.last_arr_ns) as f64 * CLOCK_RATE / 1e9;
        let d_ts = ts.wrapping_sub(self.last_ts) as i32 as f64;
        let d = d_arr - d_ts;
        self.jitter += (d.abs() - self.jitter) / 16.0;
        let d_path =
            (arr_ns - self.last_arr_ns) as f64 - (sent_ns as i64 - self.last_sent_ns as i64) as f64;
        self.path_jitter_ns += (d_path.abs() - self.path_jitter_ns) / 16.0;
        self.last_arr_ns = arr_ns;
        self.last_ts = ts;
        self.last_sent_ns = sent_ns;
        true
    }

    fn lost_by_seq(&self) -> u64 {
        if !self.init {
            return 0;
        }
        let expected = (self.max - self.base + 1) as u64;
        expected.saturating_sub(self.received)
    }
}

/// Figures for one direction over all calls.
#[derive(Clone, Default)]
pub struct DirStats {
    pub sent: u64,
    pub received: u64,
    /// Lost according to RTP sequence numbers (RFC 3550 "expected - received").
    pub lost_by_seq: u64,
    /// Sent but never received (includes losses at a stream's end).
    pub not_received: u64,
    pub dups: u64,
    pub reordered: u64,
    pub late: u64,
    pub silent_streams: u64,
    pub jitter_mean_ms: f64,
    pub jitter_max_ms: f64,
    /// Mean over streams of the path jitter (send-timestamp based), ms.
    pub path_jitter_mean_ms: f64,
    pub delay: Hist,
}

pub struct MediaResult {
    pub dirs: [DirStats; 2],
    /// Datagrams on the wrong leg, from another run, or not ours.
    pub misrouted: u64,
    pub malformed: u64,
    /// SRTP packets that failed authentication or replay checks on an SRTP leg.
    pub srtp_errors: u64,
    pub send_errors: u64,
    /// Wall time from the first send to the end of the drain.
    pub wall_s: f64,
    /// Wall time of the sending phase.
    pub send_wall_s: f64,
    pub sender_cpu_s: f64,
    pub receiver_cpu_s: f64,
    /// Worst lateness of a send versus its schedule, beyond the pacing quantum.
    pub sender_max_lag_us: f64,
    /// Sends more than 5 ms behind schedule.
    pub late_sends: u64,
}

impl MediaResult {
    pub fn received(&self) -> u64 {
        self.dirs[0].received + self.dirs[1].received
    }
    pub fn sent(&self) -> u64 {
        self.dirs[0].sent + self.dirs[1].sent
    }
    pub fn tool_cpu_s(&self) -> f64 {
        self.sender_cpu_s + self.receiver_cpu_s
    }
}

struct RxOut {
    streams: Vec<RxStream>,
    delay: [Hist; 2],
    misrouted: u64,
    malformed: u64,
    srtp_errors: u64,
    cpu_s: f64,
}

/// Runs the media phase over `legs` (two per call; `labels[c]` is call c's index in the run).
/// `srtp` is empty (plain RTP everywhere) or has one entry per leg. `hook` is called at
/// [`Phase::Start`] and [`Phase::End`] to sample CPU counters.
pub fn run(
    legs: &[Leg],
    labels: &[u32],
    srtp: Vec<Option<LegSrtp>>,
    cfg: &MediaCfg,
    hook: &mut dyn FnMut(Phase),
) -> MediaResult {
    assert_eq!(legs.len(), labels.len() * 2);
    assert!(srtp.is_empty() || srtp.len() == legs.len());
    let (mut tx_srtp, rx_srtp): (Vec<Option<Srtp>>, Vec<Option<Srtp>>) = if srtp.is_empty() {
        (
            legs.iter().map(|_| None).collect(),
            legs.iter().map(|_| None).collect(),
        )
    } else {
        srtp.into_iter()
            .map(|l| match l {
                Some(l) => (Some(l.tx), Some(l.rx)),
                None => (None, None),
            })
            .unzip()
    };
    let nstreams = legs.len();
    let ptime_ns = cfg.ptime_ms as u64 * 1_000_000;
    let rounds = (cfg.duration.as_nanos() as u64 / ptime_ns).max(1);
    let samples = cfg.ptime_ms * 8;
    let payload = (samples as usize).max(MIN_PAYLOAD);

    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let fds: Vec<RawFd> = legs.iter().map(|l| l.fd).collect();
    let rx_labels = labels.to_vec();
    let rx_stop = stop.clone();
    let run_tag = cfg.run_tag;
    // Hard bound on the receiver in case the main thread never signals.
    let hard_deadline = sys::mono_ns()
        + cfg.duration.as_nanos() as u64
        + cfg.drain.as_nanos() as u64
        + 30_000_000_000;
    let receiver = std::thread::Builder::new()
        .name("load-rx".into())
        .spawn(move || {
            receive(
                fds,
                rx_labels,
                rx_srtp,
                run_tag,
                rx_stop,
                ready_tx,
                hard_deadline,
            )
        })
        .expect("spawn receiver thread");
    let _ = ready_rx.recv_timeout(Duration::from_secs(5));

    // Sender state.
    let mut rng = sys::Rng::seeded();
    let dests: Vec<RawAddr> = legs.iter().map(|l| RawAddr::new(&l.dest)).collect();
    let ssrc: Vec<u32> = (0..nstreams).map(|_| rng.next_u32()).collect();
    let seq0: Vec<u16> = (0..nstreams).map(|_| rng.next_u32() as u16).collect();
    let ts0: Vec<u32> = (0..nstreams).map(|_| rng.next_u32()).collect();
    let mut sent = vec![0u64; nstreams];
    let mut buf = vec![0xFFu8; RTP_HDR + payload]; // 0xFF = PCMU silence
    buf[0] = 0x80; // V=2, no padding/extension/CSRC
    let mut send_errors = 0u64;
    let mut max_lag_ns = 0u64;
    let mut late_sends = 0u64;
    let quantum_ns = cfg.quantum_us * 1000;

    hook(Phase::Start);
    let cpu0 = sys::thread_cpu_s();
    let t0 = sys::mono_ns() + 10_000_000;
    let due = |j: u64, k: usize| t0 + j * ptime_ns + (k as u64 * ptime_ns) / nstreams as u64;
    let (mut j, mut k) = (0u64, 0usize);
    'outer: loop {
        let now = sys::mono_ns();
        while j < rounds {
            let d = due(j, k);
            if d > now {
                break;
            }
            let lag = now - d;
            if lag > max_lag_ns {
                max_lag_ns = lag;
            }
            if lag > 5_000_000 {
                late_sends += 1;
            }
            let seq = seq0[k].wrapping_add(j as u16);
            let ts = ts0[k].wrapping_add((j as u32).wrapping_mul(samples));
            buf[1] = if j == 0 { 0x80 } else { 0x00 }; // marker on the first packet, PT 0 (PCMU)
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            buf[4..8].copy_from_slice(&ts.to_be_bytes());
            buf[8..12].copy_from_slice(&ssrc[k].to_be_bytes());
            let p = &mut buf[RTP_HDR..];
            p[0..4].copy_from_slice(&MAGIC.to_be_bytes());
            p[4..8].copy_from_slice(&run_tag.to_be_bytes());
            p[16..20].copy_from_slice(&labels[k / 2].to_be_bytes());
            p[20] = (k % 2) as u8;
            p[24..28].copy_from_slice(&(j as u32).to_be_bytes());
            let stamp = sys::mono_ns();
            p[8..16].copy_from_slice(&stamp.to_be_bytes());
            let ok = match tx_srtp[k].as_mut() {
                Some(ctx) => match ctx.protect(&buf, false) {
                    Ok(wire) => sys::send_to(legs[k].fd, &wire, &dests[k]),
                    Err(_) => false,
                },
                None => sys::send_to(legs[k].fd, &buf, &dests[k]),
            };
            if ok {
                sent[k] += 1;
            } else {
                send_errors += 1;
            }
            k += 1;
            if k == nstreams {
                k = 0;
                j += 1;
            }
        }
        if j >= rounds {
            break 'outer;
        }
        let wake = due(j, k).max(now + quantum_ns);
        sys::sleep_until_ns(wake);
    }
    let send_end = sys::mono_ns();
    let sender_cpu_s = sys::thread_cpu_s() - cpu0;
    sys::sleep_until_ns(send_end + cfg.drain.as_nanos() as u64);
    let end = sys::mono_ns();
    hook(Phase::End);
    stop.store(true, Ordering::Relaxed);
    let rx = receiver.join().expect("receiver thread panicked");

    let mut dirs: [DirStats; 2] = [DirStats::default(), DirStats::default()];
    let mut jit_sum = [0.0f64; 2];
    let mut jit_n = [0u64; 2];
    let mut path_sum = [0.0f64; 2];
    for (s, st) in rx.streams.iter().enumerate() {
        let d = s % 2;
        let ds = &mut dirs[d];
        ds.sent += sent[s];
        ds.received += st.received;
        ds.lost_by_seq += st.lost_by_seq();
        ds.not_received += sent[s].saturating_sub(st.received);
        ds.dups += st.dups;
        ds.reordered += st.reordered;
        ds.late += st.late;
        if st.received == 0 {
            ds.silent_streams += 1;
        }
        if st.received >= 2 {
            let ms = st.jitter / CLOCK_RATE * 1000.0;
            jit_sum[d] += ms;
            jit_n[d] += 1;
            path_sum[d] += st.path_jitter_ns / 1e6;
            if ms > ds.jitter_max_ms {
                ds.jitter_max_ms = ms;
            }
        }
    }
    for d in 0..2 {
        if jit_n[d] > 0 {
            dirs[d].jitter_mean_ms = jit_sum[d] / jit_n[d] as f64;
            dirs[d].path_jitter_mean_ms = path_sum[d] / jit_n[d] as f64;
        }
        dirs[d].delay = rx.delay[d].clone();
    }
    MediaResult {
        dirs,
        misrouted: rx.misrouted,
        malformed: rx.malformed,
        srtp_errors: rx.srtp_errors,
        send_errors,
        wall_s: (end - t0) as f64 / 1e9,
        send_wall_s: (send_end - t0) as f64 / 1e9,
        sender_cpu_s,
        receiver_cpu_s: rx.cpu_s,
        sender_max_lag_us: max_lag_ns.saturating_sub(quantum_ns) as f64 / 1e3,
        late_sends,
    }
}

fn receive(
    fds: Vec<RawFd>,
    labels: Vec<u32>,
    mut srtp: Vec<Option<Srtp>>,
    run_tag: u32,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
    hard_deadline: u64,
) -> RxOut {
    let cpu0 = sys::thread_cpu_s();
    let mut out = RxOut {
        streams: vec![RxStream::new(); fds.len()],
        delay: [Hist::default(), Hist::default()],
        misrouted: 0,
        malformed: 0,
        srtp_errors: 0,
        cpu_s: 0.0,
    };
    let ep = match sys::Epoll::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("load: epoll_create1: {e}");
            let _ = ready.send(());
            return out;
        }
    };
    for (i, fd) in fds.iter().enumerate() {
        if let Err(e) = ep.add(*fd, i as u64) {
            eprintln!("load: epoll_ctl: {e}");
        }
    }
    let _ = ready.send(());
    let mut events = sys::empty_events(256);
    let mut buf = vec![0u8; 2048];
    while !stop.load(Ordering::Relaxed) && sys::mono_ns() < hard_deadline {
        let n = ep.wait(&mut events, 20);
        for ev in &events[..n] {
            let idx = { ev.u64 } as usize;
            let fd = fds[idx];
            // Leg idx receives the stream sent by its peer leg.
            let call = idx / 2;
            let dir = 1 - (idx % 2);
            let stream = call * 2 + dir;
            for _ in 0..8 {
                let Some(len) = sys::recv(fd, &mut buf) else {
                    break;
                };
                let arr = sys::mono_ns();
                if len < RTP_HDR + INFO_LEN || buf[0] >> 6 != 2 {
                    out.malformed += 1; // also STUN or DTLS on a WebRTC leg
                    continue;
                }
                let plain;
                let pkt: &[u8] = match srtp[idx].as_mut() {
                    Some(ctx) => match ctx.unprotect(&buf[..len], false) {
                        Ok(p) if p.len() >= RTP_HDR + INFO_LEN => {
                            plain = p;
                            &plain
                        }
                        _ => {
                            out.srtp_errors += 1;
                            continue;
                        }
                    },
                    None => &buf[..len],
                };
                let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
                let ts = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
                let p = &pkt[RTP_HDR..];
                let magic = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
                let tag = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                let label = u32::from_be_bytes([p[16], p[17], p[18], p[19]]);
                if magic != MAGIC
                    || tag != run_tag
                    || label != labels[call]
                    || p[20] as usize != dir
                {
                    out.misrouted += 1;
                    continue;
                }
                let mut stamp = [0u8; 8];
                stamp.copy_from_slice(&p[8..16]);
                let sent_ns = u64::from_be_bytes(stamp);
                if out.streams[stream].on_packet(seq, ts, arr, sent_ns) {
                    out.delay[dir].add(arr.saturating_sub(sent_ns));
                }
            }
        }
    }
    out.cpu_s = sys::thread_cpu_s() - cpu0;
    out
}
