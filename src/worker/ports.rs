//! The port pool of one worker: its own slice of the configured range, per bind address,
//! handed out as even/odd pairs (RTP on the even port, RTCP on the odd one).

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug)]
pub struct PortPool {
    /// First and last even port of this worker's slice.
    min: u16,
    max: u16,
    next: HashMap<IpAddr, u16>,
    used: HashMap<IpAddr, Vec<bool>>,
}

impl PortPool {
    /// The slice of `[min, max]` that worker `k` of `n` owns.
    pub fn for_worker(min: u16, max: u16, k: usize, n: usize) -> PortPool {
        let min = (min + 1) & !1;
        let span = ((max as usize + 1 - min as usize) / n.max(1)) & !1;
        let lo = min as usize + k * span;
        let hi = (lo + span).saturating_sub(2).min(max as usize - 1);
        PortPool { min: lo as u16, max: hi as u16, next: HashMap::new(), used: HashMap::new() }
    }

    pub fn range(&self) -> (u16, u16) {
        (self.min, self.max + 1)
    }

    fn slots(&self) -> usize {
        (self.max as usize - self.min as usize) / 2 + 1
    }

    /// Candidate even ports on `ip`, starting after the last one handed out, that are not
    /// in use by us; the caller binds and calls [`PortPool::take`] on success.
    pub fn candidates(&mut self, ip: IpAddr) -> impl Iterator<Item = u16> + '_ {
        let slots = self.slots();
        let used = self.used.entry(ip).or_insert_with(|| vec![false; slots]);
        let start = *self.next.entry(ip).or_insert(0) as usize;
        let min = self.min;
        (0..slots).map(move |i| (start + i) % slots).filter(move |&s| !used[s]).map(move |s| min + 2 * s as u16)
    }

    pub fn take(&mut self, ip: IpAddr, port: u16) {
        let slots = self.slots();
        let s = ((port - self.min) / 2) as usize;
        self.used.entry(ip).or_insert_with(|| vec![false; slots])[s] = true;
        self.next.insert(ip, ((s + 1) % slots) as u16);
    }

    pub fn give_back(&mut self, ip: IpAddr, port: u16) {
        if port < self.min || port > self.max + 1 {
            return;
        }
        if let Some(u) = self.used.get_mut(&ip) {
            let s = ((port - self.min) / 2) as usize;
            if s < u.len() {
                u[s] = false;
            }
        }
    }

    pub fn in_use(&self) -> usize {
        self.used.values().map(|u| u.iter().filter(|&&b| b).count()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_do_not_overlap_and_are_even() {
        let a = PortPool::for_worker(30000, 39999, 0, 2);
        let b = PortPool::for_worker(30000, 39999, 1, 2);
        assert_eq!(a.range(), (30000, 34999));
        assert_eq!(b.range(), (35000, 39999));
        let c = PortPool::for_worker(30001, 30100, 2, 3);
        assert!(c.range().0 % 2 == 0 && c.range().1 <= 30100);
    }

    #[test]
    fn take_and_give_back() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let mut p = PortPool::for_worker(30000, 30009, 0, 1);
        let all: Vec<u16> = p.candidates(ip).collect();
        assert_eq!(all, vec![30000, 30002, 30004, 30006, 30008]);
        p.take(ip, 30000);
        p.take(ip, 30002);
        assert_eq!(p.candidates(ip).next(), Some(30004));
        assert_eq!(p.in_use(), 2);
        p.give_back(ip, 30000);
        assert_eq!(p.in_use(), 1);
        let all: Vec<u16> = p.candidates(ip).collect();
        assert_eq!(all, vec![30004, 30006, 30008, 30000]);
    }
}
