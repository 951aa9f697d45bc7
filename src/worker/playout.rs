//! The playout clock of one worker's transcoded streams: a timerfd ticking every
//! millisecond while any stream is transcoded, and a wheel of 20 buckets (one frame
//! period). Each stream sits in one bucket and is pulled once per period when its
//! bucket's tick comes; new streams go to the emptiest bucket, so encoding work spreads
//! evenly over the period instead of bunching at one instant.

use super::sys::Timer;

/// Buckets = milliseconds per frame period.
pub const BUCKETS: usize = 20;
const TICK_NS: u64 = 1_000_000;
/// A frame whose tick is processed this much after it was due is counted late.
pub const LATE_NS: u64 = 5_000_000;

pub struct Wheel {
    pub timer: Timer,
    buckets: [Vec<u32>; BUCKETS],
    /// Index of the next bucket to run.
    pos: usize,
    members: usize,
    /// When the next tick is due (monotonic ns).
    next_due: u64,
}

/// One bucket to run: its streams, and how late its tick is.
pub struct Due {
    pub bucket: usize,
    pub late_ns: u64,
}

impl Wheel {
    pub fn new() -> std::io::Result<Wheel> {
        Ok(Wheel { timer: Timer::new()?, buckets: Default::default(), pos: 0, members: 0, next_due: 0 })
    }

    pub fn len(&self) -> usize {
        self.members
    }

    pub fn is_empty(&self) -> bool {
        self.members == 0
    }

    /// Adds stream `h`; returns its bucket. Starts the clock for the first stream.
    pub fn add(&mut self, h: u32, now: u64) -> u8 {
        let b = (0..BUCKETS).min_by_key(|&i| (self.buckets[i].len(), (i + BUCKETS - self.pos) % BUCKETS)).unwrap_or(0);
        self.buckets[b].push(h);
        if self.members == 0 {
            self.timer.set_period(TICK_NS);
            self.next_due = now + TICK_NS;
        }
        self.members += 1;
        b as u8
    }

    /// Removes stream `h` from bucket `b`; stops the clock after the last one.
    pub fn remove(&mut self, h: u32, b: u8) {
        let v = &mut self.buckets[b as usize % BUCKETS];
        if let Some(i) = v.iter().position(|&x| x == h) {
            v.swap_remove(i);
            self.members -= 1;
            if self.members == 0 {
                self.timer.set_period(0);
            }
        }
    }

    /// The timer fired: the buckets whose ticks have come, oldest first (at most one
    /// full period: a worker stalled longer catches up by the jitter buffers' own logic).
    pub fn due(&mut self, now: u64, out: &mut Vec<Due>) {
        out.clear();
        let _ = self.timer.expirations();
        while self.next_due <= now && out.len() < BUCKETS {
            out.push(Due { bucket: self.pos, late_ns: now - self.next_due });
            self.pos = (self.pos + 1) % BUCKETS;
            self.next_due += TICK_NS;
        }
        if self.next_due <= now {
            // more than a period behind: skip ahead (those ticks are lost, and counted late
            // by the caller through `late_ns`)
            let behind = (now - self.next_due) / TICK_NS + 1;
            self.pos = (self.pos + behind as usize) % BUCKETS;
            self.next_due += behind * TICK_NS;
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
    fn streams_spread_over_the_buckets_and_ticks_come_in_order() {
        let mut w = Wheel::new().unwrap();
        let now = 1_000_000_000;
        let bs: Vec<u8> = (0..40).map(|h| w.add(h, now)).collect();
        for b in 0..BUCKETS as u8 {
            assert_eq!(bs.iter().filter(|&&x| x == b).count(), 2);
        }
        let mut due = vec![];
        w.due(now + 3 * TICK_NS, &mut due);
        assert_eq!(due.iter().map(|d| d.bucket).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert_eq!(due[0].late_ns, 2 * TICK_NS);
        // a long stall: at most one period now, then skips ahead
        w.due(now + 100 * TICK_NS, &mut due);
        assert_eq!(due.len(), BUCKETS);
        w.due(now + 101 * TICK_NS, &mut due);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].late_ns, 0);
        for h in 0..40 {
            w.remove(h, bs[h as usize]);
        }
        assert_eq!(w.len(), 0);
    }
}
