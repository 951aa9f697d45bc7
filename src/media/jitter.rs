//! Adaptive jitter buffer for one transcoded stream, sans-IO: packets go in with their
//! arrival time, the playout timer pulls one frame per frame period; time is `now` in ns.
//!
//! - Storage: a ring of frame slots indexed by RTP timestamp, allocated once (`slots` ×
//!   `max_payload` octets): reordering is free, a duplicate finds its slot taken, and
//!   nothing a sender does grows memory. One frame per push (callers split multi-frame
//!   payloads, as RFC 4867 allows).
//! - Target delay (NetEQ's approach): each packet's transit time (arrival − RTP time) is
//!   compared with the fastest transit of the last 64 packets; that relative delay goes
//!   into a histogram of 10 ms buckets with exponential forgetting, and the target is its
//!   95th percentile (interpolated inside its bucket), clamped to `[min_delay_ms,
//!   max_delay_ms]`. Start-up: the forgetting ramps up to its steady factor over the
//!   first ~117 packets (NetEQ's start forget weight), so recent samples weigh more, and
//!   meanwhile a stall is one sample (a packet arriving with the one before it and less
//!   late than it is the same queue draining, not counted). A stall among a call's first
//!   packets (a browser starting, a receiver not scheduled) then lifts the target for
//!   ~0.3 s, not 1-2 s, and the delay it added is shed in the silence before the caller
//!   speaks rather than in 20 ms steps through the first words.
//! - Playout: the first frame plays once it has waited the target delay. A missing frame
//!   with later ones buffered is a loss ([`Out::Lost`], with the next frame for FEC); an
//!   empty buffer is an underrun: concealment without moving the playout point
//!   ([`Out::Expand`]), so a late frame still plays and a slow sender stretches time
//!   instead of being dropped; after an underrun, playout resumes at the first frame that
//!   arrives (a DTX pause ends without a run of "lost" frames). An underrun whose frame
//!   is already due later than the target plus 10 ms by the fastest path gives that frame
//!   up (the playout point moves on): the quantile's late share is lost rather than
//!   delaying every frame after it by one more frame.
//! - Shrinking: when more is buffered than the target by [`Config::shrink_ms`], two frames
//!   are played in one period (`Out::Frame`'s `merge`: the caller splices them into one
//!   frame's length where they look most alike, so speech is shortened rather than cut;
//!   [`Stats::shrunk`]); a caller that knows a frame is silence does it
//!   earlier and inaudibly with [`JitterBuffer::skip_next`] (as soon as
//!   [`JitterBuffer::excess_ms`] > 0). A fast sender or a burst therefore cannot grow
//!   the delay without bound, and an overfull ring drops its oldest frame.
//! - Bad input: a packet too late to play, a duplicate, an over-long payload, or a
//!   timestamp far outside the window is counted and dropped; three consecutive
//!   packets agreeing on a new timeline (a sender restart) resynchronise the buffer.

/// Parameters of one buffer.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// RTP clock rate of the stream (Hz).
    pub clock_rate: u32,
    /// Frame duration (ms); one frame per slot.
    pub frame_ms: u32,
    /// Ring size in frames (bounded memory and delay).
    pub slots: usize,
    /// Largest payload kept (octets); longer ones are dropped and counted.
    pub max_payload: usize,
    pub min_delay_ms: u32,
    pub max_delay_ms: u32,
    /// Quantile of the relative-delay histogram the target follows.
    pub quantile: f64,
    /// Buffered delay above the target at which a frame is dropped regardless.
    pub shrink_ms: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            clock_rate: 48_000,
            frame_ms: 20,
            slots: 50,
            max_payload: 1500,
            min_delay_ms: 20,
            max_delay_ms: 600,
            quantile: 0.95,
            shrink_ms: 40,
        }
    }
}

/// What happened to a pushed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Push {
    Stored,
    Duplicate,
    /// Its time has already been played (or declared lost).
    TooLate,
    /// Payload longer than `max_payload`, or empty.
    BadSize,
    /// Timestamp far outside the window (counted; three agreeing ones resynchronise).
    OutOfWindow,
    /// Stored after a resynchronisation to a new timeline.
    Resynced,
}

/// One frame period of playout.
#[derive(Debug, PartialEq, Eq)]
pub enum Out<'a> {
    /// Nothing to play yet (before the first frame's playout time): play silence.
    Waiting,
    /// The frame to decode; with `merge`, the buffer is shrinking and the frame after it
    /// is played in the same period (decode both, splice them into one frame's length).
    Frame { ts: u32, payload: &'a [u8], merge: Option<&'a [u8]> },
    /// This frame was lost; `next` is the following frame if it is here (Opus FEC).
    Lost { ts: u32, next: Option<&'a [u8]> },
    /// Buffer empty: conceal without consuming a frame (underrun or DTX pause).
    Expand,
}

/// Counters (one per cause).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub stored: u64,
    pub duplicates: u64,
    pub late: u64,
    pub bad_size: u64,
    pub out_of_window: u64,
    pub resyncs: u64,
    pub played: u64,
    pub lost: u64,
    pub expanded: u64,
    pub shrunk: u64,
    pub overflow: u64,
    /// Delay the buffer added, summed over played frames (µs): each frame's playout time
    /// minus the time it would have arrived by the fastest path seen (the last 64 packets'
    /// smallest transit). The mean is the buffer's cost in mouth-to-ear delay.
    pub added_delay_us: u64,
}

#[derive(Clone)]
struct Slot {
    ts: Option<u64>,
    len: usize,
    data: Box<[u8]>,
}

const BUCKET_MS: u32 = 10;
const BUCKETS: usize = 101; // 0..=1000 ms
const TRANSITS: usize = 64;
const GIVE_UP_SLACK_MS: i64 = 10;
const FORGET: f64 = 0.983; // ~60 packets' memory, as NetEQ's forget factor
/// Start-up: the forget factor of the n-th sample is 1 − START_WEIGHT/(n+1) until it
/// reaches FORGET (after ~117 packets, 2.3 s of 20 ms frames): NetEQ's histogram ramps its
/// factor up the same way from a reset (its start forget weight is 2 too).
const START_WEIGHT: f64 = 2.0;

pub struct JitterBuffer {
    cfg: Config,
    frame_ts: u64,
    slots: Vec<Slot>,
    /// Extended timestamp of the last packet (for unwrapping).
    last_ts: Option<u64>,
    /// Next frame to play (extended ts); None before the first packet.
    next: Option<u64>,
    /// When playout of `next` may start (before the first frame plays).
    start_at: Option<u64>,
    started: bool,
    underrun: bool,
    hist: [f64; BUCKETS],
    transits: [i64; TRANSITS],
    n_transits: usize,
    /// Samples the histogram has taken (its start-up ramp; a resync keeps it).
    n_updates: u32,
    /// The last packet's arrival (ns) and relative delay (ms): a burst's tail at start-up.
    last_arrival: Option<(u64, u32)>,
    frame_ns: u64,
    target_ms: u32,
    /// Smallest transit (arrival − media time, µs) of the last 64 packets.
    fastest_us: Option<i64>,
    /// Out-of-window candidates agreeing on a new timeline.
    pending_resync: (u32, Option<u64>),
    stats: Stats,
}

impl JitterBuffer {
    pub fn new(cfg: Config) -> Self {
        let cfg = Config {
            slots: cfg.slots.clamp(2, 1000),
            frame_ms: cfg.frame_ms.clamp(1, 120),
            clock_rate: cfg.clock_rate.clamp(1000, 192_000),
            max_delay_ms: cfg.max_delay_ms.clamp(cfg.min_delay_ms, BUCKETS as u32 * BUCKET_MS),
            ..cfg
        };
        let frame_ts = (cfg.clock_rate as u64 * cfg.frame_ms as u64 / 1000).max(1);
        let slot = Slot { ts: None, len: 0, data: vec![0u8; cfg.max_payload].into_boxed_slice() };
        JitterBuffer {
            frame_ts,
            slots: vec![slot; cfg.slots],
            last_ts: None,
            next: None,
            start_at: None,
            started: false,
            underrun: false,
            hist: [0.0; BUCKETS],
            transits: [0; TRANSITS],
            n_transits: 0,
            n_updates: 0,
            last_arrival: None,
            frame_ns: cfg.frame_ms as u64 * 1_000_000,
            target_ms: cfg.min_delay_ms.max(cfg.frame_ms),
            fastest_us: None,
            pending_resync: (0, None),
            stats: Stats::default(),
            cfg,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Current target delay (ms).
    pub fn target_ms(&self) -> u32 {
        self.target_ms
    }

    /// Frames buffered from the playout point to the newest frame.
    pub fn level_frames(&self) -> u64 {
        match (self.next, self.newest()) {
            (Some(n), Some(m)) if m >= n => (m - n) / self.frame_ts + 1,
            _ => 0,
        }
    }

    /// Buffered delay above the target (ms); > 0 means a silent frame may be skipped.
    pub fn excess_ms(&self) -> i64 {
        self.level_frames() as i64 * self.cfg.frame_ms as i64 - self.target_ms as i64
    }

    fn newest(&self) -> Option<u64> {
        self.slots.iter().filter_map(|s| s.ts).max()
    }

    fn slot_of(&self, ext: u64) -> usize {
        ((ext / self.frame_ts) % self.slots.len() as u64) as usize
    }

    fn unwrap_ts(&self, ts: u32) -> u64 {
        match self.last_ts {
            None => ts as u64 + (1u64 << 32), // room below for reordering
            Some(last) => {
                let diff = ts.wrapping_sub(last as u32) as i32 as i64;
                (last as i64 + diff).max(0) as u64
            }
        }
    }

    fn reset_to(&mut self, ext: u64, now: u64) {
        for s in self.slots.iter_mut() {
            s.ts = None;
        }
        self.next = Some(ext);
        self.last_ts = Some(ext);
        self.start_at = Some(now + self.target_ms as u64 * 1_000_000);
        self.started = false;
        self.underrun = false;
        self.n_transits = 0;
        self.fastest_us = None;
    }

    /// A packet arrived at `now` (ns) with RTP timestamp `ts`.
    pub fn push(&mut self, now: u64, _seq: u16, ts: u32, payload: &[u8]) -> Push {
        if payload.is_empty() || payload.len() > self.cfg.max_payload {
            self.stats.bad_size += 1;
            return Push::BadSize;
        }
        let mut ext = self.unwrap_ts(ts);
        let mut result = Push::Stored;
        let window = self.slots.len() as u64 * self.frame_ts;
        match self.next {
            None => self.reset_to(ext, now),
            Some(next) => {
                let far_ahead = ext >= next + 2 * window;
                let far_behind = ext + 2 * window < next;
                if far_ahead || far_behind {
                    // one absurd timestamp is dropped; three agreeing ones are a new timeline
                    let agree = match self.pending_resync.1 {
                        Some(p) => {
                            let d = ts.wrapping_sub(p as u32) as i32 as i64;
                            d.unsigned_abs() < window
                        }
                        None => false,
                    };
                    self.pending_resync = (if agree { self.pending_resync.0 + 1 } else { 1 }, Some(ts as u64));
                    if self.pending_resync.0 < 3 {
                        self.stats.out_of_window += 1;
                        return Push::OutOfWindow;
                    }
                    self.stats.resyncs += 1;
                    self.last_ts = None;
                    ext = self.unwrap_ts(ts);
                    self.reset_to(ext, now);
                    result = Push::Resynced;
                } else if ext < next
                    && !self.started
                    && self.newest().map_or(true, |m| m <= ext + window - self.frame_ts)
                {
                    // reordered ahead of the first packet, before playout: start earlier
                    // (if the ring still spans everything buffered from there)
                    self.next = Some(ext);
                } else if ext < next {
                    self.stats.late += 1;
                    return Push::TooLate;
                }
            }
        }
        self.pending_resync = (0, None);
        // a timestamp off the playout grid (a sender that restarted its timeline by a
        // fraction of a frame) snaps to the nearest frame of the grid
        if let Some(n) = self.next {
            let off = (ext as i128 - n as i128).rem_euclid(self.frame_ts as i128) as u64;
            if off != 0 {
                ext = if 2 * off >= self.frame_ts { ext + (self.frame_ts - off) } else { ext - off };
            }
        }
        let i = self.slot_of(ext);
        if self.slots[i].ts == Some(ext) {
            self.stats.duplicates += 1;
            return Push::Duplicate;
        }
        // a frame a whole ring ahead of the playout point: make room by dropping the oldest
        if let Some(next) = self.next {
            let limit = next + (self.slots.len() as u64 - 1) * self.frame_ts;
            if ext > limit {
                let new_next = ext - (self.slots.len() as u64 - 1) * self.frame_ts;
                let mut t = next;
                while t < new_next {
                    let j = self.slot_of(t);
                    if self.slots[j].ts == Some(t) {
                        self.slots[j].ts = None;
                        self.stats.overflow += 1;
                    }
                    t += self.frame_ts;
                }
                self.next = Some(new_next);
            }
        }
        let s = &mut self.slots[i];
        s.ts = Some(ext);
        s.len = payload.len();
        s.data[..payload.len()].copy_from_slice(payload);
        self.last_ts = Some(self.last_ts.map_or(ext, |l| l.max(ext)));
        self.stats.stored += 1;
        self.update_delay(now, ext);
        result
    }

    fn update_delay(&mut self, now: u64, ext: u64) {
        // transit in µs: arrival − media time (offset is arbitrary, only differences count)
        let media_us = (ext as u128 * 1_000_000 / self.cfg.clock_rate as u128) as i64;
        let transit = (now / 1000) as i64 - media_us;
        self.transits[self.n_transits % TRANSITS] = transit;
        self.n_transits += 1;
        let n = self.n_transits.min(TRANSITS);
        let fastest = self.transits[..n].iter().copied().min().unwrap_or(transit);
        self.fastest_us = Some(fastest);
        let rel_ms = ((transit - fastest).max(0) / 1000) as u32;
        let b = ((rel_ms / BUCKET_MS) as usize).min(BUCKETS - 1);
        // start-up ramp: the n-th sample's forget factor is 1 − 2/(n+1), up to FORGET, so
        // sample j weighs 2j/(n(n+1)) while the histogram is young: an early burst's share
        // fades as ~1/n² (a fixed factor from an empty histogram weighs early samples
        // alike: three late packets among the first seven held the target up for ~60
        // packets, and the delay they added was shed in the speech that followed)
        let forget = (1.0 - START_WEIGHT / (self.n_updates as f64 + 2.0)).clamp(0.0, FORGET);
        // while young, a stall is one sample: a packet that arrives with the one before it
        // (within a quarter frame) and less late than it is the same queue draining (a
        // 100 ms stall at start-up would otherwise put five samples in a histogram of ten
        // and hold the target up past the first second); once the ramp is done every
        // packet counts, so stalls that recur keep the target up
        let tail = forget < FORGET
            && self.last_arrival.is_some_and(|(t, r)| now.saturating_sub(t) < self.frame_ns / 4 && rel_ms < r);
        self.last_arrival = Some((now, rel_ms));
        if tail {
            return;
        }
        self.n_updates = self.n_updates.saturating_add(1);
        for h in self.hist.iter_mut() {
            *h *= forget;
        }
        self.hist[b] += 1.0 - forget;
        let total: f64 = self.hist.iter().sum();
        // the quantile, interpolated inside its bucket (a bucket's upper edge would add
        // half a bucket on average)
        let want = self.cfg.quantile * total;
        let mut acc = 0.0;
        let mut t = (BUCKETS as u32) * BUCKET_MS;
        for (k, h) in self.hist.iter().enumerate() {
            if acc + h >= want {
                let frac = if *h > 0.0 { ((want - acc) / h).clamp(0.0, 1.0) } else { 1.0 };
                t = (k as f64 * BUCKET_MS as f64 + frac * BUCKET_MS as f64).ceil() as u32;
                break;
            }
            acc += h;
        }
        self.target_ms = t.clamp(self.cfg.min_delay_ms, self.cfg.max_delay_ms);
    }

    /// Drops the next frame to play (the caller saw it is silence and the buffer holds
    /// more than its target). Returns whether a frame was dropped.
    pub fn skip_next(&mut self) -> bool {
        let Some(next) = self.next else { return false };
        let i = self.slot_of(next);
        if self.slots[i].ts == Some(next) && self.level_frames() > 1 {
            self.slots[i].ts = None;
            self.next = Some(next + self.frame_ts);
            self.stats.shrunk += 1;
            return true;
        }
        false
    }

    /// The delay the buffer added to frame `ext` played at `now`, into the stats.
    fn add_delay(&mut self, ext: u64, now: u64) {
        if let Some(f) = self.fastest_us {
            let media_us = (ext as u128 * 1_000_000 / self.cfg.clock_rate as u128) as i64;
            self.stats.added_delay_us += ((now / 1000) as i64 - media_us - f).max(0) as u64;
        }
    }

    /// One frame period of playout at `now` (ns), called by the playout timer.
    pub fn pop(&mut self, now: u64) -> Out<'_> {
        let Some(mut next) = self.next else { return Out::Waiting };
        if !self.started {
            if self.start_at.is_some_and(|t| now < t) {
                return Out::Waiting;
            }
            self.started = true;
        }
        let newest = match self.newest() {
            Some(m) if m >= next => m,
            _ => {
                let first = !self.underrun;
                self.underrun = true;
                self.stats.expanded += 1;
                // the missing frame is already later than the target allows: give it up
                // (a late frame is the quantile's share) rather than delay all that follow;
                // once per underrun, so a sender that stalled or a path that got longer
                // costs one frame, and playout resumes at the first frame that comes
                if let (true, Some(f)) = (first, self.fastest_us) {
                    let media_us = (next as u128 * 1_000_000 / self.cfg.clock_rate as u128) as i64;
                    let wait_us = (now / 1000) as i64 - media_us - f;
                    if wait_us > (self.target_ms as i64 + GIVE_UP_SLACK_MS) * 1000 {
                        self.next = Some(next + self.frame_ts);
                    }
                }
                return Out::Expand;
            }
        };
        if self.underrun {
            // resume at the first frame that is here (after a pause nothing was lost)
            while self.slots[self.slot_of(next)].ts != Some(next) && next + self.frame_ts <= newest {
                next += self.frame_ts;
            }
            self.underrun = false;
        }
        // too much buffered: two frames in this period (merged by the caller), or a
        // missing one skipped
        let level_ms = (newest.saturating_sub(next) / self.frame_ts + 1) * self.cfg.frame_ms as u64;
        if level_ms > (self.target_ms + self.cfg.shrink_ms) as u64 && newest > next {
            let (i, j) = (self.slot_of(next), self.slot_of(next + self.frame_ts));
            self.stats.shrunk += 1;
            if self.slots[i].ts == Some(next) && self.slots[j].ts == Some(next + self.frame_ts) {
                self.slots[i].ts = None;
                self.slots[j].ts = None;
                self.next = Some(next + 2 * self.frame_ts);
                self.stats.played += 1;
                self.add_delay(next, now);
                let (a, b) = (&self.slots[i], &self.slots[j]);
                return Out::Frame { ts: next as u32, payload: &a.data[..a.len], merge: Some(&b.data[..b.len]) };
            }
            if self.slots[i].ts == Some(next) {
                self.slots[i].ts = None;
            }
            next += self.frame_ts;
        }
        self.next = Some(next + self.frame_ts);
        let i = self.slot_of(next);
        if self.slots[i].ts == Some(next) {
            self.slots[i].ts = None;
            self.stats.played += 1;
            self.add_delay(next, now);
            let s = &self.slots[i];
            return Out::Frame { ts: next as u32, payload: &s.data[..s.len], merge: None };
        }
        self.stats.lost += 1;
        let j = self.slot_of(next + self.frame_ts);
        let following = self.slots[j].ts == Some(next + self.frame_ts);
        let s = &self.slots[j];
        Out::Lost { ts: next as u32, next: following.then(|| &s.data[..s.len]) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn cfg() -> Config {
        Config { clock_rate: 16000, ..Default::default() }
    }

    /// Deterministic LCG in [0, 1).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn payload(i: u32) -> [u8; 4] {
        i.to_be_bytes()
    }

    fn frame_no(out: &Out) -> Option<u32> {
        match out {
            Out::Frame { payload, .. } => Some(u32::from_be_bytes(payload[..4].try_into().unwrap())),
            _ => None,
        }
    }

    #[test]
    fn reorders_and_drops_duplicates() {
        let mut jb = JitterBuffer::new(Config { shrink_ms: 500, ..cfg() });
        let order = [1u32, 0, 2, 2, 4, 3, 5];
        for (k, &i) in order.iter().enumerate() {
            let r = jb.push(k as u64 * 20 * MS, i as u16, 1000 + i * 320, &payload(i));
            assert_eq!(r, if k == 3 { Push::Duplicate } else { Push::Stored }, "packet {k}");
        }
        let mut got = Vec::new();
        for k in 0..12 {
            if let Some(f) = frame_no(&jb.pop((200 + k * 20) * MS)) {
                got.push(f);
            }
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(jb.stats().duplicates, 1);
    }

    #[test]
    fn loss_gives_the_next_frame_for_fec_and_late_packets_are_dropped() {
        let mut jb = JitterBuffer::new(Config { min_delay_ms: 60, ..cfg() });
        for i in [0u32, 1, 3, 4] {
            jb.push(i as u64 * 20 * MS, 0, i * 320, &payload(i));
        }
        let mut outs = Vec::new();
        for k in 0..4 {
            let o = jb.pop((100 + k * 20) * MS);
            outs.push(match o {
                Out::Frame { .. } => format!("F{}", frame_no(&o).unwrap()),
                Out::Lost { next, .. } => format!("L{}", next.map_or(9, |p| p[3])),
                other => format!("{other:?}"),
            });
        }
        assert_eq!(outs, vec!["F0", "F1", "L3", "F3"]);
        // frame 2 arriving now is too late
        assert_eq!(jb.push(200 * MS, 0, 2 * 320, &payload(2)), Push::TooLate);
        assert_eq!(jb.stats().lost, 1);
        assert_eq!(jb.push(200 * MS, 0, 5 * 320, &[]), Push::BadSize);
    }

    #[test]
    fn absurd_timestamp_is_dropped_and_a_new_timeline_resyncs() {
        let mut jb = JitterBuffer::new(cfg());
        for i in 0..5u32 {
            jb.push(i as u64 * 20 * MS, 0, i * 320, &payload(i));
        }
        assert_eq!(jb.push(100 * MS, 0, 0x8000_0000, &payload(99)), Push::OutOfWindow);
        assert_eq!(jb.push(120 * MS, 0, 5 * 320, &payload(5)), Push::Stored);
        // a sender restart: three packets on a new timeline
        let base = 0x4000_0000u32;
        assert_eq!(jb.push(140 * MS, 0, base, &payload(100)), Push::OutOfWindow);
        assert_eq!(jb.push(160 * MS, 0, base + 320, &payload(101)), Push::OutOfWindow);
        assert_eq!(jb.push(180 * MS, 0, base + 640, &payload(102)), Push::Resynced);
        assert_eq!(jb.stats().resyncs, 1);
        let mut got = Vec::new();
        for k in 0..10 {
            if let Some(f) = frame_no(&jb.pop((300 + k * 20) * MS)) {
                got.push(f);
            }
        }
        assert_eq!(got, vec![102]);
    }

    #[test]
    fn an_early_packet_before_playout_cannot_overfill_the_ring() {
        // found by the `jitter` fuzz target: moving the start back must keep the ring span
        let c = Config { slots: 16, ..cfg() };
        let mut jb = JitterBuffer::new(c);
        for i in 10..26u32 {
            assert_eq!(jb.push(0, 0, i * 320, &payload(i)), Push::Stored);
        }
        assert_eq!(jb.push(0, 0, 5 * 320, &payload(5)), Push::TooLate);
        assert!(jb.level_frames() <= 16);
        // the ring is full (16 frames from 10): 9 does not fit either
        assert_eq!(jb.push(0, 0, 9 * 320, &payload(9)), Push::TooLate);
        let mut jb = JitterBuffer::new(c);
        for i in 11..26u32 {
            jb.push(0, 0, i * 320, &payload(i));
        }
        // 15 buffered: one earlier frame still fits and playout starts there
        assert_eq!(jb.push(0, 0, 10 * 320, &payload(10)), Push::Stored);
        assert_eq!(jb.level_frames(), 16);
    }

    #[test]
    fn timestamps_off_the_frame_grid_snap_to_it() {
        // found by the transcode fuzz target: an underrun, then frames 1/3 of a frame off
        let mut jb = JitterBuffer::new(cfg());
        jb.push(0, 0, 0, &payload(0));
        let mut now = 20 * MS;
        while jb.pop(now) != Out::Expand {
            now += 20 * MS;
        }
        for k in 1..4u32 {
            assert_eq!(jb.push(now, k as u16, k * 320 + 107, &payload(k)), Push::Stored);
        }
        let mut played = 0;
        for _ in 0..6 {
            now += 20 * MS;
            if matches!(jb.pop(now), Out::Frame { .. }) {
                played += 1;
            }
        }
        assert_eq!(played, 3);
    }

    #[test]
    fn timestamp_wrap_is_seamless() {
        let mut jb = JitterBuffer::new(Config { shrink_ms: 500, ..cfg() });
        let start = u32::MAX - 3 * 320 + 1;
        for i in 0..8u32 {
            assert_eq!(jb.push(i as u64 * 20 * MS, 0, start.wrapping_add(i * 320), &payload(i)), Push::Stored);
        }
        let got: Vec<u32> = (0..10).filter_map(|k| frame_no(&jb.pop((100 + k * 20) * MS))).collect();
        assert_eq!(got, (0..8).collect::<Vec<_>>());
    }

    /// Simulated call: 20 ms frames, network delay 10 ms + jitter, loss, sender clock
    /// skew; playout every 20 ms. Returns (mean added delay ms, p95 jitter ms, stats,
    /// max level frames).
    fn simulate(jitter_ms: f64, loss: f64, skew: f64, frames: u32, seed: u64) -> (f64, f64, Stats, u64) {
        let mut rng = Rng(seed);
        let mut jb = JitterBuffer::new(cfg());
        let mut arrivals: Vec<(u64, u32)> = Vec::new();
        let mut jitters = Vec::new();
        for i in 0..frames {
            let send = (i as f64 * 20.0 * (1.0 - skew) * MS as f64) as u64;
            // jitter: mostly small, a heavy tail (exponential) up to jitter_ms
            let j = (-rng.next().max(1e-9).ln() * jitter_ms / 3.0).min(jitter_ms * 2.0);
            jitters.push(j);
            if rng.next() < loss {
                continue;
            }
            arrivals.push((send + 10 * MS + (j * MS as f64) as u64, i));
        }
        arrivals.sort();
        let mut sum_delay = 0f64;
        let mut n_delay = 0u32;
        let mut max_level = 0;
        let mut a = 0;
        let mut t = 0u64;
        let end = (frames as u64 + 50) * 20 * MS;
        while t < end {
            while a < arrivals.len() && arrivals[a].0 <= t {
                let (at, i) = arrivals[a];
                jb.push(at, i as u16, i * 320, &payload(i));
                a += 1;
            }
            max_level = max_level.max(jb.level_frames());
            let out = jb.pop(t);
            if let Some(i) = frame_no(&out) {
                let sent = (i as f64 * 20.0 * (1.0 - skew) * MS as f64) as u64;
                // added delay: playout − (send + base network delay)
                sum_delay += (t as f64 - (sent + 10 * MS) as f64) / MS as f64;
                n_delay += 1;
            }
            t += 20 * MS;
        }
        jitters.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p95 = jitters[jitters.len() * 95 / 100];
        (sum_delay / n_delay as f64, p95, jb.stats(), max_level)
    }

    #[test]
    fn delay_follows_jitter_and_loss_is_bounded() {
        let (delay, p95, st, _) = simulate(40.0, 0.05, 0.0, 3000, 7);
        let late_pct = 100.0 * st.late as f64 / 3000.0;
        println!("jitter p95 {p95:.1} ms: added delay {delay:.1} ms, late {late_pct:.2} %, {st:?}");
        assert!(delay < 1.3 * p95, "added delay {delay:.1} ms against p95 jitter {p95:.1} ms");
        // late frames are the quantile's share (at most 5 %)
        assert!(late_pct < 5.0, "{late_pct:.2} % late ({st:?})");
        // lost frames ≈ 5 % loss + late
        let lost_pct = 100.0 * st.lost as f64 / 3000.0;
        assert!(lost_pct < 8.0, "{lost_pct:.2} % lost ({st:?})");
        // without jitter the target sits at its floor
        let (d0, _, st0, _) = simulate(0.0, 0.0, 0.0, 500, 1);
        assert!(d0 <= 40.0, "added delay {d0} ms without jitter");
        assert_eq!(st0.late + st0.lost, 0, "{st0:?}");
    }

    #[test]
    fn skewed_senders_and_bursts_stay_bounded() {
        // sender 2 % fast: the level must not grow without bound
        let (_, _, st, lvl) = simulate(10.0, 0.0, 0.02, 5000, 3);
        assert!(lvl < 10, "level {lvl} frames ({st:?})");
        assert!(st.shrunk > 50, "{st:?}");
        // sender 2 % slow: underruns expand, nothing is dropped as late for long
        let (_, _, st, _) = simulate(10.0, 0.0, -0.02, 5000, 4);
        assert!(st.expanded > 50, "{st:?}");
        assert!(st.late < 50, "{st:?}");
        // a burst: 40 frames held 800 ms then delivered at once
        let mut jb = JitterBuffer::new(cfg());
        for i in 0..40u32 {
            jb.push(800 * MS, 0, i * 320, &payload(i));
        }
        assert!(jb.level_frames() <= 40);
        for i in 0..200u32 {
            jb.push((800 + i as u64) * MS, 0, (40 + i) * 320, &payload(40 + i));
        }
        assert!(jb.level_frames() <= cfg().slots as u64);
        assert!(jb.stats().overflow > 0);
    }

    #[test]
    fn an_underrun_past_the_target_gives_the_frame_up() {
        let mut jb = JitterBuffer::new(cfg());
        for i in 0..3u32 {
            jb.push(i as u64 * 20 * MS, 0, i * 320, &payload(i));
        }
        let target = jb.target_ms() as u64;
        let mut t = target * MS;
        for i in 0..3 {
            assert_eq!(frame_no(&jb.pop(t)), Some(i));
            t += 20 * MS;
        }
        // frame 3 is missing: due at 60 ms by the fastest path; within target + 10 ms the
        // buffer waits (expands), past it the frame is given up and arrives too late
        let due = 60 * MS;
        assert_eq!(jb.pop(due + (target + 25) * MS), Out::Expand);
        assert_eq!(jb.push(due + (target + 30) * MS, 0, 3 * 320, &payload(3)), Push::TooLate);
        jb.push(due + (target + 31) * MS, 0, 4 * 320, &payload(4));
        assert_eq!(frame_no(&jb.pop(due + (target + 40) * MS)), Some(4));
    }

    #[test]
    fn a_path_200_ms_longer_costs_one_frame() {
        // frames 0..50 on time, then every frame 200 ms later (a stalled sender, a route
        // change): one frame is given up, the rest play after the expansion
        let mut jb = JitterBuffer::new(cfg());
        let arrival = |i: u32| i as u64 * 20 * MS + if i >= 50 { 200 * MS } else { 0 };
        let mut t = 0;
        let mut i = 0u32;
        let mut played = vec![];
        while t < 4000 * MS {
            while i < 150 && arrival(i) <= t {
                jb.push(arrival(i), i as u16, i * 320, &payload(i));
                i += 1;
            }
            if let Some(k) = frame_no(&jb.pop(t)) {
                played.push(k);
            }
            t += 20 * MS;
        }
        assert!(played.len() >= 148, "played {} of 150 ({:?})", played.len(), jb.stats());
    }

    #[test]
    fn silence_skipping_and_dtx_pause() {
        let mut jb = JitterBuffer::new(Config { shrink_ms: 500, ..cfg() });
        for i in 0..10u32 {
            jb.push(0, 0, i * 320, &payload(i));
        }
        assert!(jb.excess_ms() > 0);
        assert!(jb.skip_next());
        assert_eq!(frame_no(&jb.pop(100 * MS)), Some(1));
        // drain, then a DTX pause of 1 s: expands, then resumes at the new frame
        for k in 0..20 {
            jb.pop((120 + k * 20) * MS);
        }
        assert_eq!(jb.pop(600 * MS), Out::Expand);
        jb.push(1600 * MS, 0, 60 * 320, &payload(60));
        assert_eq!(frame_no(&jb.pop(1620 * MS)), Some(60));
        assert_eq!(jb.stats().lost, 0);
    }
    /// A call's start as Chromium's was traced in tests/webrtc.rs: 20 ms frames, silence
    /// until frame 37 (a caller skipping quiet frames when the buffer holds more than its
    /// target, as transcode.rs does), packets on time (0-3 ms) except those sent from
    /// `from` ms on, held until `until` ms and delivered together, with the playout ticks
    /// (every 20 ms from 15 ms) missed meanwhile but one late tick at `until` (the
    /// receiver was not scheduled). Returns each played frame's delay (playout − send,
    /// ms) and when the target came back to its floor (ms).
    fn start_up_stall(from: u64, until: u64) -> (Vec<(u32, i64)>, Option<u64>) {
        const SPEECH: u32 = 37;
        let mut jb = JitterBuffer::new(cfg());
        let early = [3u64, 9, 7, 0];
        let arrival = |i: u32| {
            let sent = i as u64 * 20;
            match i {
                _ if (from..until).contains(&sent) => until * MS,
                0..4 => (sent + early[i as usize]) * MS,
                _ => (sent + (i as u64 * 7) % 4) * MS,
            }
        };
        let mut ticks: Vec<u64> = (0..150u64).map(|k| (15 + 20 * k) * MS).filter(|&t| t < from * MS || t > until * MS).collect();
        ticks.push(until * MS);
        ticks.sort();
        let mut i = 0u32;
        let mut delays = Vec::new();
        let mut floor_at = None;
        for &t in &ticks {
            while i < 150 && arrival(i) <= t {
                jb.push(arrival(i), i as u16, i * 320, &payload(i));
                i += 1;
            }
            if floor_at.is_none() && t > until * MS && jb.target_ms() <= cfg().min_delay_ms {
                floor_at = Some(t / MS);
            }
            if let Some(k) = frame_no(&jb.pop(t)) {
                delays.push((k, (t / MS) as i64 - k as i64 * 20));
                let quiet = k < SPEECH || k == SPEECH + 7; // and a stop consonant in the speech
                if quiet && jb.excess_ms() >= 20 {
                    jb.skip_next();
                }
            }
        }
        (delays.into_iter().filter(|(k, _)| *k >= SPEECH).collect(), floor_at)
    }

    #[test]
    fn a_start_up_stall_is_shed_in_the_silence_before_speech() {
        // The delay a stall at call start adds must be shed in the leading silence, not in
        // the speech after it. (a) as traced in a run that scored NB-PESQ 2.72 against
        // ~2.98: the 5th-7th packets held ~60 ms. Before the start-up ramp the target
        // stayed up until 895 ms (three samples of seven kept their 5 % share for ~60
        // packets) and the last 20 ms were skipped 0.14 s into the speech. (b) a 100 ms
        // stall from the 11th packet (eagw stopped for 100 ms in the real test): with the
        // ramp alone the target came back at ~1.2 s, after merges and a skip in the speech.
        for (from, until) in [(80, 142), (200, 300)] {
            let (speech, floor_at) = start_up_stall(from, until);
            let first = speech[0].1;
            assert!(
                speech.iter().all(|d| d.1 == first),
                "stall {from}-{until} ms: the delay changes during the speech: {:?} (target at its floor from {floor_at:?} ms)",
                &speech[..12]
            );
            // the stall's delay is gone: the speech plays at the start-up delay
            assert!(first <= 40, "stall {from}-{until} ms: speech delayed {first} ms");
            assert!(floor_at.is_some_and(|t| t < until + 500), "stall {from}-{until} ms: target at its floor from {floor_at:?} ms");
        }
    }
}
