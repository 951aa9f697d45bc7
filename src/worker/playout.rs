//! The playout clock of one worker's transcoded streams: a wheel of 20 buckets of 1 ms
//! (one frame period) and a timerfd armed, one shot at a time, for the next bucket that
//! has streams. Each stream sits in one bucket and is pulled once per period when its
//! bucket comes.
//!
//! Placement packs streams into as few buckets as it can, up to [`BUDGET_US`] of
//! estimated work each (the pipeline's [`cost_us`](crate::media::transcode::Pipeline::cost_us):
//! an AMR-WB encoder costs ten Opus CELT ones), and opens a new bucket (the empty one
//! farthest from the used ones) only when those are full. Every wake-up of the worker
//! costs tens of microseconds of kernel time on a VM, so 20 Opus ↔ G.711 calls (about
//! 30 µs a direction) wake it 100 times a second in 2 buckets instead of 1,000 in 20;
//! a bucket's work stays within one tick, so buckets do not run into each other and large
//! loads still spread over the period.

use super::sys::Timer;

/// Buckets = milliseconds per frame period.
pub const BUCKETS: usize = 20;
/// Estimated work per bucket before another bucket is opened (µs): one tick.
pub const BUDGET_US: u32 = 1000;
const TICK_NS: u64 = 1_000_000;
/// A frame whose tick is processed this much after it was due is counted late.
pub const LATE_NS: u64 = 5_000_000;

pub struct Wheel {
    pub timer: Timer,
    buckets: [Vec<u32>; BUCKETS],
    /// Estimated work of each bucket (µs).
    cost: [u32; BUCKETS],
    /// Index of the next bucket to run.
    pos: usize,
    members: usize,
    /// When bucket `pos` is due (monotonic ns).
    next_due: u64,
    /// When the timer is armed for (0: not armed).
    armed: u64,
}

/// One bucket to run: its streams, and how late its tick is.
pub struct Due {
    pub bucket: usize,
    pub late_ns: u64,
}

impl Wheel {
    pub fn new() -> std::io::Result<Wheel> {
        Ok(Wheel { timer: Timer::new()?, buckets: Default::default(), cost: [0; BUCKETS], pos: 0, members: 0, next_due: 0, armed: 0 })
    }

    pub fn len(&self) -> usize {
        self.members
    }

    pub fn is_empty(&self) -> bool {
        self.members == 0
    }

    /// Buckets with streams.
    pub fn used(&self) -> usize {
        self.buckets.iter().filter(|b| !b.is_empty()).count()
    }

    /// The bucket a new stream of `cost` µs goes to: the busiest used one it fits in within
    /// [`BUDGET_US`]; if none, the empty one farthest from any used one (none empty: the
    /// least busy).
    fn place(&self, cost: u32) -> usize {
        let open = (0..BUCKETS)
            .filter(|&i| !self.buckets[i].is_empty() && self.cost[i] + cost <= BUDGET_US)
            .max_by_key(|&i| self.cost[i]);
        if let Some(b) = open {
            return b;
        }
        let used: Vec<usize> = (0..BUCKETS).filter(|&i| !self.buckets[i].is_empty()).collect();
        let gap = |i: usize| used.iter().map(|&u| (i + BUCKETS - u) % BUCKETS).map(|d| d.min(BUCKETS - d)).min().unwrap_or(0);
        let empty = (0..BUCKETS).filter(|&i| self.buckets[i].is_empty()).max_by_key(|&i| (gap(i), (self.pos + BUCKETS - i) % BUCKETS));
        empty.unwrap_or_else(|| (0..BUCKETS).min_by_key(|&i| self.cost[i]).unwrap_or(0))
    }

    /// Adds stream `h` of `cost` µs per frame; returns its bucket. Starts the clock for
    /// the first stream.
    pub fn add(&mut self, h: u32, cost: u32, now: u64) -> u8 {
        if self.members == 0 {
            self.next_due = now + TICK_NS;
        }
        let b = self.place(cost);
        self.buckets[b].push(h);
        self.cost[b] += cost;
        self.members += 1;
        self.arm();
        b as u8
    }

    /// Removes stream `h` (added with `cost`) from bucket `b`; stops the clock after the
    /// last one.
    pub fn remove(&mut self, h: u32, b: u8, cost: u32) {
        let b = b as usize % BUCKETS;
        let v = &mut self.buckets[b];
        if let Some(i) = v.iter().position(|&x| x == h) {
            v.swap_remove(i);
            self.cost[b] = self.cost[b].saturating_sub(cost);
            self.members -= 1;
            if self.members == 0 {
                self.timer.set_at(0);
                self.armed = 0;
            }
        }
    }

    /// Arms the timer for the next bucket with streams (if not armed for it already).
    fn arm(&mut self) {
        let Some(d) = (0..BUCKETS).find(|&d| !self.buckets[(self.pos + d) % BUCKETS].is_empty()) else { return };
        let at = self.next_due + d as u64 * TICK_NS;
        if self.armed != at {
            self.timer.set_at(at);
            self.armed = at;
        }
    }

    /// The timer fired: the buckets with streams whose ticks have come, oldest first (at
    /// most one full period: a worker stalled longer catches up by the jitter buffers' own
    /// logic); then the timer is armed for the next one.
    pub fn due(&mut self, now: u64, out: &mut Vec<Due>) {
        out.clear();
        let _ = self.timer.expirations();
        self.armed = 0;
        let mut n = 0;
        while self.next_due <= now && n < BUCKETS {
            if !self.buckets[self.pos].is_empty() {
                out.push(Due { bucket: self.pos, late_ns: now - self.next_due });
            }
            self.pos = (self.pos + 1) % BUCKETS;
            self.next_due += TICK_NS;
            n += 1;
        }
        if self.next_due <= now {
            // more than a period behind: skip ahead (those ticks are lost, and counted late
            // by the caller through `late_ns`)
            let behind = (now - self.next_due) / TICK_NS + 1;
            self.pos = (self.pos + behind as usize) % BUCKETS;
            self.next_due += behind * TICK_NS;
        }
        if self.members > 0 {
            self.arm();
        }
    }

    /// Takes bucket `b`'s members out (to run them while the table is borrowed).
    pub fn take(&mut self, b: usize) -> Vec<u32> {
        std::mem::take(&mut self.buckets[b])
    }

    /// Puts them back (members added to the bucket meanwhile are kept).
    pub fn put_back(&mut self, b: usize, mut v: Vec<u32>) {
        v.append(&mut self.buckets[b]);
        self.buckets[b] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_pack_by_cost_spread_apart_and_ticks_come_in_order() {
        let mut w = Wheel::new().unwrap();
        let now = 1_000_000_000;
        // 40 streams of 60 µs: 16 per bucket (960 µs), then a second and a third bucket
        let bs: Vec<u8> = (0..40).map(|h| w.add(h, 60, now)).collect();
        assert_eq!(w.used(), 3);
        let mut per: Vec<(u8, usize)> = (0..BUCKETS as u8).map(|b| (b, bs.iter().filter(|&&x| x == b).count())).filter(|x| x.1 > 0).collect();
        per.sort_by_key(|x| std::cmp::Reverse(x.1));
        assert_eq!(per.iter().map(|x| x.1).collect::<Vec<_>>(), vec![16, 16, 8]);
        let d = (per[0].0 as usize + BUCKETS - per[1].0 as usize) % BUCKETS;
        assert_eq!(d.min(BUCKETS - d), BUCKETS / 2, "the second bucket half a period from the first");
        // an AMR-WB encoding stream (260 µs) fits only the third bucket
        let amr = w.add(100, 260, now);
        assert_eq!(amr, per[2].0);
        // ticks: only used buckets are due, in order, with their lateness
        let mut due = vec![];
        w.due(now + 20 * TICK_NS, &mut due);
        let mut order: Vec<usize> = due.iter().map(|d| d.bucket).collect();
        assert_eq!(order.len(), 3);
        let first = order[0];
        order.iter_mut().for_each(|b| *b = (*b + BUCKETS - first) % BUCKETS);
        assert!(order.windows(2).all(|p| p[0] < p[1]), "{order:?}");
        assert!(due.iter().all(|d| d.late_ns < 20 * TICK_NS));
        // a long stall: at most one period now, then skips ahead
        w.due(now + 100 * TICK_NS, &mut due);
        assert_eq!(due.len(), 3);
        w.due(now + 101 * TICK_NS, &mut due);
        assert!(due.len() <= 1 && due.iter().all(|d| d.late_ns == 0));
        for h in 0..40 {
            w.remove(h, bs[h as usize], 60);
        }
        w.remove(100, amr, 260);
        assert_eq!(w.len(), 0);
        assert_eq!(w.used(), 0);
        assert!(w.cost.iter().all(|&c| c == 0));
    }

    #[test]
    fn a_full_wheel_spreads_evenly() {
        let mut w = Wheel::new().unwrap();
        for h in 0..(BUCKETS * 5) as u32 {
            w.add(h, 250, 1_000_000_000);
        }
        assert_eq!(w.used(), BUCKETS);
        assert!(w.buckets.iter().all(|b| b.len() == 5), "{:?}", w.cost);
    }
}
