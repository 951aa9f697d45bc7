//! `generate-RTCP`: eagw's own RTCP towards one party (one leg of a call), sans-IO.
//!
//! eagw relays RTP as an RTP translator (RFC 3550 §7): towards party B it reports, with
//! B's RTCP consumed instead of relayed,
//! - as the sender of the stream it forwards to B: an SR whose SSRC is that stream's
//!   (party A's) SSRC, with the packet and octet counts of what eagw actually sent to B, and
//!   an RTP timestamp extrapolated from the last one sent with the clock rate of its payload
//!   type (RFC 3550 §6.4.1);
//! - as a receiver of what B sends: one report block per SSRC heard from B (RFC 3550 A.1
//!   sequence tracking with wrap-around, A.3 cumulative and interval loss, A.8 interarrival
//!   jitter in the stream's clock units), with LSR/DLSR from B's last SR;
//! - an SDES chunk with eagw's CNAME (RFC 3550 §6.1 compound: SR or RR first, then SDES).
//!
//! Everything is fed with bytes and a monotonic `now` in ns (plus the wall clock as NTP when
//! a report is built). Per RTP packet the update is a handful of integer operations on a
//! fixed array: no allocation. Parsing of what the party sends is zero-copy and stops at
//! what eagw needs (SR sender info for LSR, report blocks about eagw's stream for the RTT).

use super::rtp::RtpHeader;

/// Sources (SSRCs) tracked per party; a fifth replaces the one silent for longest.
pub const MAX_SOURCES: usize = 4;
/// SRs remembered to match the LSR of the party's report blocks (RTT).
const SR_HISTORY: usize = 4;
/// RFC 3550 A.1.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u32 = 1 << 16;
/// Seconds from 1900 (NTP era 0) to 1970.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// RFC 3550 A.1 / A.3 / A.8 receiver statistics of one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Source {
    pub ssrc: u32,
    /// Highest sequence number seen, and sequence number cycles (count << 16).
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    /// The sequence number after a large jump: the next in-order packet restarts the source.
    bad_seq: u32,
    /// Packets received (duplicates included, RFC 3550 A.3), and at the last report.
    pub received: u32,
    received_prior: u32,
    expected_prior: u32,
    /// Relative transit time of the last packet (RTP units) and its arrival.
    transit: u32,
    arrival_ns: u64,
    /// Interarrival jitter × 16 (RFC 3550 A.8), in RTP units (u64: garbage timestamps
    /// cannot overflow it), and the clock rate of the last packet's payload type.
    jitter: u64,
    pub clock: u32,
    /// Whether any RTP came from this source (an SR alone makes no report block).
    pub has_rtp: bool,
    /// Last SR from this source: NTP middle 32 bits, and when it arrived (0 = none).
    lsr: u32,
    lsr_at_ns: u64,
}

impl Source {
    fn start(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 without probation: the first packet starts the source.
    #[inline]
    fn update_seq(&mut self, seq: u16) {
        if !self.has_rtp {
            self.start(seq);
            self.has_rtp = true;
            self.received = 1;
            return;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if udelta < MAX_DROPOUT {
            // in order, with a permissible gap
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if udelta <= u16::MAX - MAX_MISORDER {
            // a very large jump: a restarted sender if the next packet follows it
            if seq as u32 == self.bad_seq {
                self.start(seq);
            } else {
                self.bad_seq = (seq as u32 + 1) & (SEQ_MOD - 1);
                return;
            }
        }
        // else a duplicate or a late (reordered) packet: counted, nothing else moves
        self.received = self.received.wrapping_add(1);
    }

    /// RFC 3550 A.8: `arrival` in RTP units of the stream's clock.
    #[inline]
    fn update_jitter(&mut self, arrival: u32, ts: u32) {
        let transit = arrival.wrapping_sub(ts);
        if self.received > 1 {
            let d = (transit.wrapping_sub(self.transit) as i32).unsigned_abs() as u64;
            // the running estimate: J += (|D| - J) / 16, kept × 16
            self.jitter = self.jitter + d - ((self.jitter + 8) >> 4);
        }
        self.transit = transit;
    }

    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    pub fn expected(&self) -> u32 {
        self.extended_max().wrapping_sub(self.base_seq).wrapping_add(1)
    }

    /// Cumulative packets lost (negative with duplicates), clamped to the 24-bit field.
    pub fn lost(&self) -> i32 {
        let l = self.expected() as i64 - self.received as i64;
        l.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    /// Interarrival jitter in RTP units.
    pub fn jitter(&self) -> u32 {
        (self.jitter >> 4).min(u32::MAX as u64) as u32
    }

    /// Interarrival jitter in µs (0 when the clock rate is unknown).
    pub fn jitter_us(&self) -> u64 {
        if self.clock == 0 {
            0
        } else {
            (self.jitter >> 4) * 1_000_000 / self.clock as u64
        }
    }

    /// A.3: the fraction lost since the last report (and the interval starts again).
    fn take_fraction(&mut self) -> u8 {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        }
    }
}

/// What eagw sent to the party (the stream it forwards): the SR's sender info.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    /// The forwarded stream's SSRC (the other party's); 0 with `packets` 0: none yet.
    pub ssrc: u32,
    pub packets: u32,
    /// Payload octets (RFC 3550 §6.4.1: no header, no padding).
    pub octets: u32,
    /// The last RTP timestamp sent, when (mono ns), and its payload type's clock rate.
    last_ts: u32,
    last_ns: u64,
    clock: u32,
    /// `packets` at the last report: an SR only when something was sent since.
    packets_reported: u32,
}

/// What the party's report blocks say about eagw's stream towards it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Remote {
    pub fraction_lost: u8,
    pub lost: i32,
    pub jitter: u32,
    /// Round-trip time from LSR/DLSR of a block about one of eagw's SRs (ns).
    pub rtt_ns: Option<u64>,
}

/// A parse failure of the party's RTCP (the packet is counted and dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    TooShort,
    Version,
    /// A length field (or a report count) runs past the datagram.
    Length,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ParseError::TooShort => "RTCP shorter than its header",
            ParseError::Version => "RTCP version is not 2",
            ParseError::Length => "RTCP length runs past the datagram",
        })
    }
}

/// One item of an RTCP compound packet, as far as eagw reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// SR sender info: the sender's SSRC and the middle 32 bits of its NTP timestamp.
    Sender { ssrc: u32, ntp_mid: u32, rtp_ts: u32, packets: u32, octets: u32 },
    /// A report block (of an SR or RR).
    Block(Block),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Who reports, and about which source.
    pub reporter: u32,
    pub ssrc: u32,
    pub fraction_lost: u8,
    pub lost: i32,
    pub highest_seq: u32,
    pub jitter: u32,
    pub lsr: u32,
    pub dlsr: u32,
}

#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(x) => u32::from_be_bytes([x[0], x[1], x[2], x[3]]),
        None => 0,
    }
}

fn block(b: &[u8], reporter: u32) -> Block {
    let l = be32(b, 4) & 0x00ff_ffff;
    Block {
        reporter,
        ssrc: be32(b, 0),
        fraction_lost: b.get(4).copied().unwrap_or(0),
        // 24-bit two's complement
        lost: ((l << 8) as i32) >> 8,
        highest_seq: be32(b, 8),
        jitter: be32(b, 12),
        lsr: be32(b, 16),
        dlsr: be32(b, 20),
    }
}

/// Walks a (plain) RTCP compound packet, calling `f` for SR sender info and report
/// blocks; other packet types (SDES, BYE, APP, feedback) are skipped by their length.
/// Returns the number of RTCP packets in the compound. Nothing allocates; a malformed
/// packet stops the walk with an error (items before it were delivered).
pub fn parse(mut b: &[u8], mut f: impl FnMut(Item)) -> Result<usize, ParseError> {
    let mut n = 0;
    if b.is_empty() {
        return Err(ParseError::TooShort);
    }
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(ParseError::TooShort);
        }
        if b[0] >> 6 != 2 {
            return Err(ParseError::Version);
        }
        let len = 4 * (u16::from_be_bytes([b[2], b[3]]) as usize + 1);
        let Some(p) = b.get(..len) else { return Err(ParseError::Length) };
        let rc = (p[0] & 0x1f) as usize;
        match p[1] {
            200 => {
                if len < 28 + 24 * rc {
                    return Err(ParseError::Length);
                }
                let ssrc = be32(p, 4);
                let ntp = ((be32(p, 8) as u64) << 32) | be32(p, 12) as u64;
                f(Item::Sender {
                    ssrc,
                    ntp_mid: (ntp >> 16) as u32,
                    rtp_ts: be32(p, 16),
                    packets: be32(p, 20),
                    octets: be32(p, 24),
                });
                for i in 0..rc {
                    f(Item::Block(block(&p[28 + 24 * i..], ssrc)));
                }
            }
            201 => {
                if len < 8 + 24 * rc {
                    return Err(ParseError::Length);
                }
                let ssrc = be32(p, 4);
                for i in 0..rc {
                    f(Item::Block(block(&p[8 + 24 * i..], ssrc)));
                }
            }
            _ => {}
        }
        n += 1;
        b = &b[len..];
    }
    Ok(n)
}

/// NTP timestamp (64-bit, RFC 5905) of a UNIX time in ns.
pub fn ntp_of_unix_ns(unix_ns: u64) -> u64 {
    let secs = unix_ns / 1_000_000_000 + NTP_UNIX_OFFSET;
    let frac = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// ns → 1/65536 s (DLSR units).
fn to_ntp_short(ns: u64) -> u32 {
    ((ns as u128 * 65536) / 1_000_000_000).min(u32::MAX as u128) as u32
}

fn from_ntp_short(v: u32) -> u64 {
    (v as u64 * 1_000_000_000) >> 16
}

/// RTP units elapsed in `ns` at `clock` Hz (no overflow for any realistic call length).
#[inline]
fn units(ns: u64, clock: u32) -> u64 {
    (ns / 1000).saturating_mul(clock as u64) / 1_000_000
}

/// eagw's RTCP state towards one party.
#[derive(Clone, Debug)]
pub struct Rtcp {
    pub sources: [Source; MAX_SOURCES],
    /// Index of the source the last packet came from (the common case: one SSRC).
    last: usize,
    pub sent: Sent,
    /// SSRC used before any RTP was forwarded to the party (random, from the session).
    own_ssrc: u32,
    cname: [u8; 16],
    /// Clock rate per payload type (0: unknown, no jitter).
    clocks: [u32; 128],
    /// SRs sent: NTP middle 32 bits and when (mono ns), for the RTT.
    srs: [(u32, u64); SR_HISTORY],
    srs_next: usize,
    pub remote: Remote,
    pub interval_ns: u64,
    pub next_due_ns: u64,
    rng: u64,
    /// Counters: reports built, SRs and RRs consumed from the party.
    pub reports_sent: u64,
    pub srs_received: u64,
    pub rrs_received: u64,
}

impl Rtcp {
    /// `seed` feeds the SSRC, the CNAME and the dispersion of the report interval.
    pub fn new(seed: u64, interval_ns: u64, now: u64) -> Rtcp {
        let mut r = Rtcp {
            sources: [Source::default(); MAX_SOURCES],
            last: 0,
            sent: Sent::default(),
            own_ssrc: 0,
            cname: [0; 16],
            clocks: [0; 128],
            srs: [(0, 0); SR_HISTORY],
            srs_next: 0,
            remote: Remote::default(),
            interval_ns,
            next_due_ns: 0,
            rng: seed | 1,
            reports_sent: 0,
            srs_received: 0,
            rrs_received: 0,
        };
        r.own_ssrc = r.random() as u32;
        let id = r.random();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, c) in r.cname.iter_mut().enumerate() {
            *c = HEX[((id >> (4 * i)) & 15) as usize];
        }
        r.schedule(now);
        r
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: dispersion and identifiers, not secrets
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next report: one interval plus 0–1 s of random dispersion (rtpengine's rule).
    pub fn schedule(&mut self, now: u64) {
        self.next_due_ns = now + self.interval_ns + self.random() % 1_000_000_001;
    }

    pub fn set_clocks(&mut self, clocks: &[(u8, u32)]) {
        for &(pt, c) in clocks {
            if let Some(x) = self.clocks.get_mut(pt as usize) {
                *x = c;
            }
        }
    }

    #[inline]
    fn clock(&self, pt: u8) -> u32 {
        self.clocks.get(pt as usize).copied().unwrap_or(0)
    }

    /// The SSRC eagw reports as: the forwarded stream's, else its own.
    pub fn ssrc(&self) -> u32 {
        if self.sent.packets > 0 || self.sent.ssrc != 0 {
            self.sent.ssrc
        } else {
            self.own_ssrc
        }
    }

    pub fn cname(&self) -> &str {
        std::str::from_utf8(&self.cname).unwrap_or("eagw")
    }

    fn source(&mut self, ssrc: u32) -> &mut Source {
        let i = if self.sources[self.last].ssrc == ssrc && (self.sources[self.last].has_rtp || self.sources[self.last].lsr_at_ns != 0) {
            self.last
        } else {
            let used = |s: &Source| s.has_rtp || s.lsr_at_ns != 0;
            match self.sources.iter().position(|s| used(s) && s.ssrc == ssrc) {
                Some(i) => i,
                None => {
                    // a free slot, else the one silent for longest
                    let i = self.sources.iter().position(|s| !used(s)).unwrap_or_else(|| {
                        let mut best = 0;
                        for (i, s) in self.sources.iter().enumerate() {
                            if s.arrival_ns.max(s.lsr_at_ns) < self.sources[best].arrival_ns.max(self.sources[best].lsr_at_ns) {
                                best = i;
                            }
                        }
                        best
                    });
                    self.sources[i] = Source { ssrc, ..Source::default() };
                    i
                }
            }
        };
        self.last = i;
        &mut self.sources[i]
    }

    /// An RTP packet from the party (accepted, authenticated).
    #[inline]
    pub fn on_rtp_received(&mut self, h: &RtpHeader, now: u64) {
        let clock = self.clock(h.payload_type);
        let s = self.source(h.ssrc);
        s.update_seq(h.sequence);
        s.clock = clock;
        if clock != 0 {
            // arrival in RTP units relative to an origin of our own: only differences matter
            let arrival = units(now, clock) as u32;
            s.update_jitter(arrival, h.timestamp);
        }
        s.arrival_ns = now;
    }

    /// An RTP packet eagw sent to the party; `payload` is its payload length without padding.
    #[inline]
    pub fn on_rtp_sent(&mut self, h: &RtpHeader, payload: usize, now: u64) {
        let s = &mut self.sent;
        if s.ssrc != h.ssrc {
            // a new sender: its counts start again (RFC 3550 §6.4.1)
            *s = Sent { ssrc: h.ssrc, ..Sent::default() };
        }
        s.packets = s.packets.wrapping_add(1);
        s.octets = s.octets.wrapping_add(payload as u32);
        s.last_ts = h.timestamp;
        s.last_ns = now;
        s.clock = self.clocks.get(h.payload_type as usize).copied().unwrap_or(0);
    }

    /// The party's RTCP (plain): LSR from its SRs, loss/jitter/RTT from its blocks about us.
    pub fn on_rtcp(&mut self, pkt: &[u8], now: u64) -> Result<usize, ParseError> {
        let me = self.ssrc();
        let mut srs = 0;
        let mut rrs = 0;
        let mut sender = None;
        let mut about_me = None;
        let r = parse(pkt, |it| match it {
            Item::Sender { ssrc, ntp_mid, .. } => {
                srs += 1;
                sender = Some((ssrc, ntp_mid));
            }
            Item::Block(b) if b.ssrc == me => {
                rrs += 1;
                about_me = Some(b);
            }
            Item::Block(_) => {}
        });
        if let Some((ssrc, mid)) = sender {
            let s = self.source(ssrc);
            s.lsr = mid;
            s.lsr_at_ns = now;
        }
        if let Some(b) = about_me {
            self.remote.fraction_lost = b.fraction_lost;
            self.remote.lost = b.lost;
            self.remote.jitter = b.jitter;
            if b.lsr != 0 {
                if let Some(&(_, at)) = self.srs.iter().find(|&&(mid, at)| mid == b.lsr && at != 0) {
                    let rtt = now.saturating_sub(at).saturating_sub(from_ntp_short(b.dlsr));
                    self.remote.rtt_ns = Some(rtt);
                }
            }
        }
        self.srs_received += srs;
        self.rrs_received += rrs;
        r
    }

    /// Whether there is anything to report (RTP either way).
    pub fn active(&self) -> bool {
        self.sent.packets > 0 || self.sources.iter().any(|s| s.has_rtp)
    }

    /// Builds the compound report into `out` (512 bytes hold the largest); returns its
    /// length. `ntp` is the wall clock now (see [`ntp_of_unix_ns`]). Starts the next
    /// loss interval and schedules the next report.
    pub fn build(&mut self, now: u64, ntp: u64, out: &mut [u8]) -> usize {
        let mut w = Writer { b: out, n: 0 };
        let me = self.ssrc();
        let sr = self.sent.packets != self.sent.packets_reported;
        let blocks = self.sources.iter().filter(|s| s.has_rtp).count();
        let start = w.n;
        w.u8(0x80 | blocks as u8);
        w.u8(if sr { 200 } else { 201 });
        w.u16(0); // length, below
        w.u32(me);
        if sr {
            let s = &mut self.sent;
            let ts = s.last_ts.wrapping_add(units(now.saturating_sub(s.last_ns), s.clock) as u32);
            w.u32((ntp >> 32) as u32);
            w.u32(ntp as u32);
            w.u32(ts);
            w.u32(s.packets);
            w.u32(s.octets);
            s.packets_reported = s.packets;
            self.srs[self.srs_next] = ((ntp >> 16) as u32, now);
            self.srs_next = (self.srs_next + 1) % SR_HISTORY;
        }
        for s in self.sources.iter_mut().filter(|s| s.has_rtp) {
            let fraction = s.take_fraction();
            let lost = s.lost();
            w.u32(s.ssrc);
            w.u32(((fraction as u32) << 24) | (lost as u32 & 0x00ff_ffff));
            w.u32(s.extended_max());
            w.u32(s.jitter());
            if s.lsr_at_ns != 0 {
                w.u32(s.lsr);
                w.u32(to_ntp_short(now.saturating_sub(s.lsr_at_ns)));
            } else {
                w.u32(0);
                w.u32(0);
            }
        }
        w.set_len(start);
        // SDES: one chunk, CNAME, then 1–4 null octets to the next 32-bit boundary
        let start = w.n;
        w.u8(0x81);
        w.u8(202);
        w.u16(0);
        w.u32(me);
        w.u8(1);
        w.u8(self.cname.len() as u8);
        for c in self.cname {
            w.u8(c);
        }
        w.u8(0);
        while (w.n - start) % 4 != 0 {
            w.u8(0);
        }
        w.set_len(start);
        self.reports_sent += 1;
        self.schedule(now);
        if w.n > w.b.len() {
            0
        } else {
            w.n
        }
    }
}

/// Writes big-endian fields; past the end of the buffer it only counts.
struct Writer<'a> {
    b: &'a mut [u8],
    n: usize,
}

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        if let Some(x) = self.b.get_mut(self.n) {
            *x = v;
        }
        self.n += 1;
    }
    fn u16(&mut self, v: u16) {
        for x in v.to_be_bytes() {
            self.u8(x);
        }
    }
    fn u32(&mut self, v: u32) {
        for x in v.to_be_bytes() {
            self.u8(x);
        }
    }
    /// The length field of the packet that began at `start`: 32-bit words minus one.
    fn set_len(&mut self, start: usize) {
        let words = ((self.n - start) / 4).saturating_sub(1) as u16;
        if let Some(x) = self.b.get_mut(start + 2..start + 4) {
            x.copy_from_slice(&words.to_be_bytes());
        }
    }
}

/// Payload length of a (plain) RTP packet: no header, no padding.
#[inline]
pub fn payload_len(pkt: &[u8], h: &RtpHeader) -> usize {
    let pad = match pkt.first() {
        Some(b) if b & 0x20 != 0 => pkt.last().copied().unwrap_or(0) as usize,
        _ => 0,
    };
    pkt.len().saturating_sub(h.payload_offset).saturating_sub(pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn hdr(seq: u16, ts: u32, ssrc: u32) -> RtpHeader {
        RtpHeader { marker: false, payload_type: 0, sequence: seq, timestamp: ts, ssrc, payload_offset: 12 }
    }

    fn rtcp() -> Rtcp {
        let mut r = Rtcp::new(42, 5000 * MS, 0);
        r.set_clocks(&[(0, 8000), (8, 8000), (111, 48000)]);
        r
    }

    /// Builds a report and parses it back into its items.
    fn report(r: &mut Rtcp, now: u64, ntp: u64) -> (Vec<u8>, Vec<Item>) {
        let mut buf = [0u8; 512];
        let n = r.build(now, ntp, &mut buf);
        let mut items = vec![];
        assert_eq!(parse(&buf[..n], |i| items.push(i)), Ok(2));
        (buf[..n].to_vec(), items)
    }

    fn blocks(items: &[Item]) -> Vec<Block> {
        items.iter().filter_map(|i| if let Item::Block(b) = i { Some(*b) } else { None }).collect()
    }

    #[test]
    fn loss_and_interval_fraction() {
        let mut r = rtcp();
        // 100 packets, 10 of them lost (seq 11..=20)
        for seq in (1..=100u16).filter(|s| !(11..=20).contains(s)) {
            r.on_rtp_received(&hdr(seq, seq as u32 * 160, 7), seq as u64 * 20 * MS);
        }
        let s = r.sources[0];
        assert_eq!((s.expected(), s.received, s.lost(), s.extended_max()), (100, 90, 10, 100));
        let (_, items) = report(&mut r, 3000 * MS, 1 << 32);
        let b = blocks(&items);
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].ssrc, b[0].lost, b[0].highest_seq), (7, 10, 100));
        assert_eq!(b[0].fraction_lost, (10 * 256 / 100) as u8);
        // next interval: 50 packets, 5 lost → 10 % again, cumulative 15
        for seq in (101..=150u16).filter(|s| *s % 10 != 5) {
            r.on_rtp_received(&hdr(seq, seq as u32 * 160, 7), seq as u64 * 20 * MS);
        }
        let (_, items) = report(&mut r, 4000 * MS, 2 << 32);
        let b = blocks(&items);
        assert_eq!((b[0].lost, b[0].highest_seq, b[0].fraction_lost), (15, 150, (5 * 256 / 50) as u8));
        // an interval without loss
        for seq in 151..=160u16 {
            r.on_rtp_received(&hdr(seq, seq as u32 * 160, 7), seq as u64 * 20 * MS);
        }
        let (_, items) = report(&mut r, 5000 * MS, 3 << 32);
        assert_eq!(blocks(&items)[0].fraction_lost, 0);
    }

    #[test]
    fn sequence_wrap_counts_a_cycle() {
        let mut r = rtcp();
        for i in 0..20u32 {
            let seq = (65530 + i) as u16; // 65530..65535, 0..13
            if seq == 2 {
                continue; // one lost just after the wrap
            }
            r.on_rtp_received(&hdr(seq, i * 160, 9), i as u64 * 20 * MS);
        }
        let s = r.sources[0];
        assert_eq!(s.extended_max(), 65536 + 13);
        assert_eq!((s.expected(), s.received, s.lost()), (20, 19, 1));
    }

    #[test]
    fn reorder_and_duplicates() {
        let mut r = rtcp();
        for seq in [1u16, 2, 4, 3, 5, 6] {
            r.on_rtp_received(&hdr(seq, 0, 1), 0);
        }
        // the late packet 3 is counted: nothing lost, the highest stays 6
        assert_eq!((r.sources[0].lost(), r.sources[0].extended_max()), (0, 6));
        // duplicates count as received (RFC 3550 A.3): loss goes negative
        r.on_rtp_received(&hdr(6, 0, 1), 0);
        r.on_rtp_received(&hdr(5, 0, 1), 0);
        assert_eq!((r.sources[0].lost(), r.sources[0].extended_max()), (-2, 6));
        let (_, items) = report(&mut r, MS, 1 << 32);
        let b = blocks(&items);
        assert_eq!((b[0].lost, b[0].fraction_lost), (-2, 0));
    }

    #[test]
    fn large_jump_restarts_after_two_packets() {
        let mut r = rtcp();
        for seq in 1..=10u16 {
            r.on_rtp_received(&hdr(seq, 0, 1), 0);
        }
        r.on_rtp_received(&hdr(30000, 0, 1), 0); // ignored
        assert_eq!(r.sources[0].extended_max(), 10);
        r.on_rtp_received(&hdr(30001, 0, 1), 0); // follows: the source restarts
        let s = r.sources[0];
        assert_eq!((s.extended_max(), s.expected(), s.received, s.lost()), (30001, 1, 1, 0));
    }

    #[test]
    fn jitter_against_hand_computed_value() {
        let mut r = rtcp();
        // 8 kHz, 20 ms packets (160 units); arrivals 0, 20, 45, 60, 80 ms
        // transit differences D: (160-160)=0, (200-160)=40, (120-160)=-40, 0 (in units)
        // J1 = 0; J2 = 0 + (40-0)/16 = 2.5; J3 = 2.5 + (40-2.5)/16 = 4.84375; J4 = 4.84375 - 4.84375/16 = 4.541
        // integer A.8 arithmetic (×16): 0 → 40 → 40+40-3=77 → 77+0-5=72 → 72>>4 = 4
        for (i, at) in [0u64, 20, 45, 60, 80].iter().enumerate() {
            r.on_rtp_received(&hdr(i as u16, i as u32 * 160, 3), 1_000 * MS + at * MS);
        }
        assert_eq!(r.sources[0].jitter, 72);
        assert_eq!(r.sources[0].jitter(), 4);
        let (_, items) = report(&mut r, 2000 * MS, 1 << 32);
        assert_eq!(blocks(&items)[0].jitter, 4);
        // opus: the same pattern at 48 kHz is six times as many units
        let mut r = rtcp();
        for (i, at) in [0u64, 20, 45, 60, 80].iter().enumerate() {
            let h = RtpHeader { payload_type: 111, ..hdr(i as u16, i as u32 * 960, 3) };
            r.on_rtp_received(&h, at * MS);
        }
        // D: 0, 240, 240, 0 → ×16: 0, 240, 465, 436
        assert_eq!(r.sources[0].jitter, 436);
        // an unknown payload type: no jitter (the clock is unknown), loss still tracked
        let mut r = rtcp();
        for (i, at) in [0u64, 20, 45].iter().enumerate() {
            let h = RtpHeader { payload_type: 99, ..hdr(i as u16, i as u32 * 160, 3) };
            r.on_rtp_received(&h, at * MS);
        }
        assert_eq!((r.sources[0].jitter(), r.sources[0].received), (0, 3));
    }

    #[test]
    fn sender_report_counts_and_timestamp_extrapolation() {
        let mut r = rtcp();
        // nothing sent: an RR with our own SSRC and no blocks
        let (raw, items) = report(&mut r, 0, 1 << 32);
        assert_eq!(raw[1], 201);
        assert!(items.is_empty());
        let own = r.ssrc();
        assert_eq!(u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]), own);
        for i in 0..50u32 {
            r.on_rtp_sent(&hdr(i as u16, 1000 + i * 160, 0xaaaa), 160, 1_000 * MS + i as u64 * 20 * MS);
        }
        // 30 ms after the last packet (sent at 1980 ms, ts 1000 + 49*160): +240 units
        let ntp = (3_900_000_000u64 << 32) | 0x8000_0000;
        let (raw, items) = report(&mut r, 2_010 * MS, ntp);
        assert_eq!(raw[1], 200);
        assert_eq!(items[0], Item::Sender { ssrc: 0xaaaa, ntp_mid: (ntp >> 16) as u32, rtp_ts: 1000 + 49 * 160 + 240, packets: 50, octets: 8000 });
        // nothing sent since: the next one is an RR again, under the forwarded stream's SSRC
        let (raw, _) = report(&mut r, 3000 * MS, 2 << 32);
        assert_eq!((raw[1], u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]])), (201, 0xaaaa));
        // a new sender SSRC starts its counts again
        r.on_rtp_sent(&hdr(1, 5, 0xbbbb), 20, 4000 * MS);
        let (_, items) = report(&mut r, 4000 * MS, 3 << 32);
        assert!(matches!(items[0], Item::Sender { ssrc: 0xbbbb, packets: 1, octets: 20, .. }));
    }

    #[test]
    fn lsr_dlsr_from_the_partys_sr_and_rtt_from_its_rr() {
        let mut r = rtcp();
        for i in 0..10u16 {
            r.on_rtp_received(&hdr(i, i as u32 * 160, 0x5555), i as u64 * 20 * MS);
            r.on_rtp_sent(&hdr(i, i as u32 * 160, 0xaaaa), 160, i as u64 * 20 * MS);
        }
        // the party's SR (NTP 0x0001_2345_6789_0000 → middle 0x2345_6789), with a block about someone else
        let mut sr = vec![0x81, 200, 0, 12, 0, 0, 0x55, 0x55, 0, 1, 0x23, 0x45, 0x67, 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 90];
        sr.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(r.on_rtcp(&sr, 1_000 * MS), Ok(1));
        assert_eq!(r.srs_received, 1);
        // our report 1.5 s later: LSR echoes it, DLSR = 1.5 × 65536
        let ntp = 0x0000_1111_2222_3333u64;
        let (_, items) = report(&mut r, 2_500 * MS, ntp);
        let b = blocks(&items);
        assert_eq!((b[0].ssrc, b[0].lsr, b[0].dlsr), (0x5555, 0x2345_6789, 98304));
        // the party's RR about our SR, sent 40 ms after ours with DLSR 30 ms: RTT 10 ms
        let mut rr = vec![0x81, 201, 0, 7, 0, 0, 0x55, 0x55, 0, 0, 0xaa, 0xaa, 0x1a, 0, 0, 3];
        rr.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 5]);
        rr.extend_from_slice(&((ntp >> 16) as u32).to_be_bytes());
        rr.extend_from_slice(&to_ntp_short(30 * MS).to_be_bytes());
        assert_eq!(r.on_rtcp(&rr, 2_540 * MS), Ok(1));
        assert_eq!((r.remote.fraction_lost, r.remote.lost, r.remote.jitter), (0x1a, 3, 5));
        let rtt = r.remote.rtt_ns.unwrap();
        assert!((9 * MS..=11 * MS).contains(&rtt), "{rtt}");
        // an LSR we never sent: no RTT change
        r.remote.rtt_ns = None;
        rr[24] ^= 0xff;
        r.on_rtcp(&rr, 2_600 * MS).unwrap();
        assert_eq!(r.remote.rtt_ns, None);
    }

    #[test]
    fn compound_layout_and_sdes() {
        let mut r = rtcp();
        r.on_rtp_received(&hdr(1, 0, 0x1234), 0);
        r.on_rtp_sent(&hdr(1, 0, 0xaaaa), 10, 0);
        let mut buf = [0u8; 512];
        let n = r.build(MS, 1 << 32, &mut buf);
        let p = &buf[..n];
        // SR with one block: 7 + 6 words, then SDES
        assert_eq!(&p[..4], &[0x81, 200, 0, 12]);
        let sdes = &p[52..];
        assert_eq!(&sdes[..2], &[0x81, 202]);
        assert_eq!(u32::from_be_bytes([sdes[4], sdes[5], sdes[6], sdes[7]]), 0xaaaa);
        assert_eq!((sdes[8], sdes[9] as usize), (1, r.cname().len()));
        assert_eq!(&sdes[10..10 + 16], r.cname().as_bytes());
        assert_eq!(sdes.len() % 4, 0);
        assert_eq!(sdes.len(), 4 * (u16::from_be_bytes([sdes[2], sdes[3]]) as usize + 1));
        assert_eq!(*sdes.last().unwrap(), 0);
        // a buffer too small builds nothing rather than a truncated packet
        let mut small = [0u8; 20];
        assert_eq!(r.build(MS, 1 << 32, &mut small), 0);
    }

    #[test]
    fn an_independent_parser_reads_the_compound() {
        use rtc_rtcp::compound_packet::CompoundPacket;
        use rtc_rtcp::sender_report::SenderReport;
        let mut r = rtcp();
        for seq in (1..=20u16).filter(|&s| s != 7) {
            r.on_rtp_received(&hdr(seq, seq as u32 * 160, 0x1234), seq as u64 * 20 * MS);
        }
        r.on_rtp_received(&hdr(1, 0, 0x5678), 0);
        for seq in 1..=10u16 {
            r.on_rtp_sent(&hdr(seq, seq as u32 * 160, 0xaaaa), 160, seq as u64 * 20 * MS);
        }
        let mut buf = [0u8; 512];
        let n = r.build(500 * MS, 0x1234_5678_9abc_def0, &mut buf);
        let mut raw = &buf[..n];
        let c = CompoundPacket(rtc_rtcp::packet::unmarshal(&mut raw).expect("rtc-rtcp parses it"));
        c.validate().expect("RFC 3550 compound: SR first, CNAME");
        assert_eq!(&c.cname().unwrap()[..], r.cname().as_bytes());
        let sr = c.0[0].as_any().downcast_ref::<SenderReport>().unwrap();
        assert_eq!((sr.ssrc, sr.ntp_time, sr.packet_count, sr.octet_count), (0xaaaa, 0x1234_5678_9abc_def0, 10, 1600));
        assert_eq!(sr.reports.len(), 2);
        let b = sr.reports.iter().find(|b| b.ssrc == 0x1234).unwrap();
        assert_eq!((b.total_lost, b.last_sequence_number, b.fraction_lost), (1, 20, (256 / 20) as u8));
    }

    #[test]
    fn many_sources_keep_the_recent_ones() {
        let mut r = rtcp();
        for ssrc in 1..=6u32 {
            r.on_rtp_received(&hdr(1, 0, ssrc), ssrc as u64 * MS);
        }
        let mut ssrcs: Vec<u32> = r.sources.iter().map(|s| s.ssrc).collect();
        ssrcs.sort();
        assert_eq!(ssrcs, vec![3, 4, 5, 6]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(parse(&[], |_| {}), Err(ParseError::TooShort));
        assert_eq!(parse(&[0x80, 201], |_| {}), Err(ParseError::TooShort));
        assert_eq!(parse(&[0x40, 201, 0, 0], |_| {}), Err(ParseError::Version));
        assert_eq!(parse(&[0x80, 201, 0, 5, 0, 0, 0, 1], |_| {}), Err(ParseError::Length));
        // a report count larger than the packet
        assert_eq!(parse(&[0x85, 201, 0, 1, 0, 0, 0, 1], |_| {}), Err(ParseError::Length));
        assert_eq!(parse(&[0x81, 200, 0, 1, 0, 0, 0, 1], |_| {}), Err(ParseError::Length));
        // unknown types are skipped by length
        assert_eq!(parse(&[0x80, 203, 0, 1, 0, 0, 0, 1, 0x80, 206, 0, 0], |_| {}), Ok(2));
        let mut r = rtcp();
        assert!(r.on_rtcp(b"\x80\xc8garbage", 0).is_err());
    }

    #[test]
    fn ntp_conversion() {
        assert_eq!(ntp_of_unix_ns(0), NTP_UNIX_OFFSET << 32);
        assert_eq!(ntp_of_unix_ns(1_500_000_000), ((NTP_UNIX_OFFSET + 1) << 32) | 0x8000_0000);
        assert_eq!(to_ntp_short(1_000_000_000), 65536);
        assert_eq!(from_ntp_short(65536 / 2), 500_000_000);
    }

    #[test]
    fn payload_length_without_padding() {
        let mut p = vec![0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 0, 0, 3];
        let h = match super::super::rtp::classify(&p) {
            super::super::rtp::Kind::Rtp(h) => h,
            k => panic!("{k:?}"),
        };
        assert_eq!(payload_len(&p, &h), 3);
        p[0] = 0x80;
        assert_eq!(payload_len(&p, &h), 6);
    }
}
