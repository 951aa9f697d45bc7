//! Endpoint learning (symmetric-RTP latching) for one local media socket.
//!
//! Each local socket faces one remote peer. [`Endpoint`] decides, per received packet,
//! whether the packet comes from that peer (and is relayed) or not (counted and dropped),
//! and where media for the peer is sent. It is a pure state machine: time is an input.
//!
//! Safe by default (the lesson of rtpengine's RTP injection and RTP Bleed):
//! - once latched, packets from any other source are dropped and never move the latch,
//!   unless the operator asked for `media handover`;
//! - a packet from exactly the address the SDP names latches at once, in every mode, and
//!   an exact match always wins over a latch made by guessing (so an attacker who sends
//!   first cannot keep the stream);
//! - while learning, packets from unconfirmed sources are not relayed, and media for the
//!   peer goes only to the SDP address: nothing is ever sent to a guessed address before
//!   the learning window has closed.
//!
//! Modes (rtpengine's `endpoint-learning`): `off` never learns (only the SDP address is
//! accepted); `immediate` latches on the first valid packet; `delayed` (default) waits
//! for the window and then takes the latest source seen; `heuristic` waits and takes the
//! best match (address and port > address > port > any).

use crate::config::Learning;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// From an address other than the latched (or, before latching, an unconfirmed one).
    Foreign,
    /// Still learning: source not confirmed yet.
    Learning,
}

#[derive(Clone, Debug)]
pub struct Endpoint {
    /// Where the SDP says the peer is (None: not known yet, or a zero address).
    pub sdp: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    /// The latch came from an exact SDP match (cannot be displaced except by handover).
    exact: bool,
    pub mode: Learning,
    /// `media handover`: a new source may take the stream over.
    pub handover: bool,
    /// `asymmetric`: never send to the learned address, only to the SDP one.
    pub asymmetric: bool,
    window_ns: u64,
    window_end: Option<u64>,
    candidate: Option<(SocketAddr, u8)>,
}

impl Endpoint {
    pub fn new(mode: Learning, window_ns: u64) -> Endpoint {
        Endpoint {
            sdp: None,
            latched: None,
            exact: false,
            mode,
            handover: false,
            asymmetric: false,
            window_ns,
            window_end: None,
            candidate: None,
        }
    }

    /// The SDP address changed (offer, answer, re-offer): learning starts afresh unless
    /// the new address is the one already latched.
    pub fn set_sdp(&mut self, sdp: Option<SocketAddr>) {
        if sdp == self.sdp {
            return;
        }
        self.sdp = sdp;
        if self.latched.is_some() && self.latched == sdp {
            self.exact = true;
            return;
        }
        self.latched = None;
        self.exact = false;
        self.window_end = None;
        // a source seen before the SDP arrived that matches it exactly is confirmed now
        if let (Some((c, _)), Some(s)) = (self.candidate, sdp) {
            if c == s {
                self.latch(c, true);
                return;
            }
        }
        self.candidate = None;
    }

    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Whether the peer's address is confirmed (`confirmed` in `query`).
    pub fn confirmed(&self) -> bool {
        self.latched.is_some()
    }

    /// Where media for the peer goes: the latched address, else the SDP one.
    #[inline]
    pub fn destination(&self) -> Option<SocketAddr> {
        if self.asymmetric {
            return self.sdp;
        }
        self.latched.or(self.sdp)
    }

    fn latch(&mut self, a: SocketAddr, exact: bool) {
        self.latched = Some(a);
        self.exact = exact;
        self.window_end = None;
        self.candidate = None;
    }

    /// ICE nominated `a`: media goes there and comes only from there.
    pub fn select(&mut self, a: SocketAddr) {
        self.latch(a, true);
    }

    /// ICE consent was lost: the party's address is forgotten.
    pub fn unselect(&mut self) {
        self.latched = None;
        self.exact = false;
    }

    /// Called for every well-formed packet received on the socket.
    #[inline]
    pub fn on_packet(&mut self, from: SocketAddr, now_ns: u64) -> Verdict {
        if let Some(l) = self.latched {
            if l == from {
                return Verdict::Accept;
            }
            if self.handover || (!self.exact && self.sdp == Some(from)) {
                self.latch(from, self.sdp == Some(from));
                return Verdict::Accept;
            }
            return Verdict::Foreign;
        }
        self.on_packet_unlatched(from, now_ns)
    }

    #[cold]
    fn on_packet_unlatched(&mut self, from: SocketAddr, now_ns: u64) -> Verdict {
        if self.sdp == Some(from) {
            self.latch(from, true);
            return Verdict::Accept;
        }
        match self.mode {
            Learning::Off => Verdict::Foreign,
            Learning::Immediate => {
                self.latch(from, false);
                Verdict::Accept
            }
            Learning::Delayed | Learning::Heuristic => {
                let score = self.score(from);
                let take = match self.candidate {
                    None => true,
                    Some((_, s)) => self.mode == Learning::Delayed || score > s,
                };
                if take {
                    self.candidate = Some((from, score));
                }
                let end = *self.window_end.get_or_insert(now_ns + self.window_ns);
                if now_ns >= end {
                    self.close_window();
                    if self.latched == Some(from) {
                        return Verdict::Accept;
                    }
                }
                Verdict::Learning
            }
        }
    }

    fn score(&self, from: SocketAddr) -> u8 {
        match self.sdp {
            Some(s) if s.ip() == from.ip() => 2,
            Some(s) if s.port() == from.port() => 1,
            _ => 0,
        }
    }

    fn close_window(&mut self) {
        if let Some((c, _)) = self.candidate {
            self.latch(c, false);
        }
    }

    /// Timer tick: closes an expired learning window.
    pub fn on_tick(&mut self, now_ns: u64) {
        if let Some(end) = self.window_end {
            if self.latched.is_none() && now_ns >= end {
                self.close_window();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: u64 = 1_000_000_000;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn exact_sdp_match_latches_and_blocks_others() {
        for mode in [Learning::Off, Learning::Immediate, Learning::Delayed, Learning::Heuristic] {
            let mut e = Endpoint::new(mode, 3 * S);
            e.set_sdp(Some(a("10.0.0.1:4000")));
            assert_eq!(e.on_packet(a("10.0.0.1:4000"), 0), Verdict::Accept);
            assert_eq!(e.on_packet(a("6.6.6.6:4000"), 1), Verdict::Foreign);
            assert_eq!(e.on_packet(a("10.0.0.1:4001"), 10 * S), Verdict::Foreign);
            assert_eq!(e.destination(), Some(a("10.0.0.1:4000")));
        }
    }

    #[test]
    fn attacker_first_cannot_capture_when_sdp_names_peer() {
        for mode in [Learning::Immediate, Learning::Delayed, Learning::Heuristic] {
            let mut e = Endpoint::new(mode, 3 * S);
            e.set_sdp(Some(a("10.0.0.1:4000")));
            e.on_packet(a("6.6.6.6:9999"), 0);
            if mode != Learning::Immediate {
                // nothing sent anywhere but the SDP address while learning
                assert_eq!(e.destination(), Some(a("10.0.0.1:4000")));
            }
            assert_eq!(e.on_packet(a("10.0.0.1:4000"), S), Verdict::Accept);
            assert_eq!(e.destination(), Some(a("10.0.0.1:4000")));
            assert_eq!(e.on_packet(a("6.6.6.6:9999"), 2 * S), Verdict::Foreign);
            e.on_tick(10 * S);
            assert_eq!(e.destination(), Some(a("10.0.0.1:4000")));
        }
    }

    #[test]
    fn nat_peer_learned_after_window() {
        let mut e = Endpoint::new(Learning::Heuristic, 3 * S);
        e.set_sdp(Some(a("192.168.1.5:4000")));
        assert_eq!(e.on_packet(a("6.6.6.6:1"), 0), Verdict::Learning);
        assert_eq!(e.on_packet(a("203.0.113.9:4000"), S), Verdict::Learning); // port match beats none
        assert_eq!(e.destination(), Some(a("192.168.1.5:4000")));
        e.on_tick(3 * S);
        assert_eq!(e.latched(), Some(a("203.0.113.9:4000")));
        assert_eq!(e.on_packet(a("6.6.6.6:1"), 4 * S), Verdict::Foreign);
    }

    #[test]
    fn handover_and_asymmetric() {
        let mut e = Endpoint::new(Learning::Delayed, 3 * S);
        e.set_sdp(Some(a("10.0.0.1:4000")));
        e.handover = true;
        e.on_packet(a("10.0.0.1:4000"), 0);
        assert_eq!(e.on_packet(a("10.0.0.2:5000"), 1), Verdict::Accept);
        assert_eq!(e.destination(), Some(a("10.0.0.2:5000")));
        e.asymmetric = true;
        assert_eq!(e.destination(), Some(a("10.0.0.1:4000")));
    }

    #[test]
    fn source_before_sdp_is_confirmed_by_it() {
        let mut e = Endpoint::new(Learning::Delayed, 3 * S);
        assert_eq!(e.on_packet(a("10.0.0.1:4000"), 0), Verdict::Learning);
        assert_eq!(e.destination(), None);
        e.set_sdp(Some(a("10.0.0.1:4000")));
        assert_eq!(e.latched(), Some(a("10.0.0.1:4000")));
    }

    #[test]
    fn new_sdp_address_restarts_learning() {
        let mut e = Endpoint::new(Learning::Delayed, 3 * S);
        e.set_sdp(Some(a("10.0.0.1:4000")));
        e.on_packet(a("10.0.0.1:4000"), 0);
        e.set_sdp(Some(a("10.0.0.9:6000")));
        assert_eq!(e.latched(), None);
        assert_eq!(e.on_packet(a("10.0.0.1:4000"), S), Verdict::Learning);
        assert_eq!(e.on_packet(a("10.0.0.9:6000"), S), Verdict::Accept);
    }
}
