//! The socket table of one worker and the per-packet relay path.
//!
//! A socket is a slab entry; its index is both the session's [`Handle`] and the epoll
//! token. Everything the relay needs per packet sits in the entry: the peer endpoint
//! state (latching), the paired sockets to forward through, and the counters.

use super::playout::{Due, Wheel, LATE_NS};
use super::ports::PortPool;
use super::sys;
use super::WorkerStats;
use crate::config::Config;
use crate::media::endpoint::{Endpoint, Verdict};
use crate::media::rtcp::{self, Rtcp};
use crate::media::rtp::{classify, Kind, RtpHeader};
use crate::media::transcode::{EncoderDefaults, Pipeline, PushResult, TranscodeSpec, MAX_PACKET};
use crate::sdp::Family;
use crate::session::{
    Crypt, DtlsPhase, Handle, LocalPort, MediaSockets, RtcpGen, RtcpGenReport, SocketReport, WebRtcReport, Wiring,
};
use crate::transport::dtls::{self, Dtls, Fingerprint, Identity};
use crate::transport::ice::{IceLite, Outcome};
use crate::transport::ice_full::IceFull;
use crate::transport::sdes::SrtpKey;
use crate::transport::srtp::Srtp;
use crate::transport::srtp_rtp::MAX_TAG;
use rtc_crypto::RTCCryptoProvider;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

const NONE: u32 = u32::MAX;

pub struct Sock {
    fd: OwnedFd,
    local: SocketAddr,
    ep: Endpoint,
    fwd_rtp: u32,
    fwd_rtcp: u32,
    rtcp_only: bool,
    /// Whether this socket holds the even port of its pair (it returns the pair).
    owns_pair: bool,
    /// Whether the socket is on the table's list of open learning windows.
    learning: bool,
    /// eagw terminates SRTP towards this socket's party: nothing passes without a context.
    secure: bool,
    srtp_rx: Option<Box<Srtp>>,
    srtp_tx: Option<Box<Srtp>>,
    /// ICE and DTLS, on sockets facing a WebRTC party.
    rtc: Option<Box<Rtc>>,
    /// generate-RTCP: eagw's RTCP towards this socket's party (on its RTP socket).
    gen: Option<Box<Gen>>,
    /// Whether the socket is on the table's list of report timers.
    gen_timed: bool,
    /// generate-RTCP on a separate RTCP socket: the RTP socket whose state its RTCP feeds.
    gen_owner: u32,
    /// Transcoding: RTP from this socket's party goes through this pipeline (played out
    /// by the worker's playout clock) instead of being relayed.
    xc: Option<Box<Xc>>,
    rep: SocketReport,
    /// `block DTMF`: whether it is on, and the party's telephone-event payload types, one
    /// bit each (0: none).
    dtmf_blocked: bool,
    block_dtmf: u128,
}

/// A transcoded direction and its bucket on the playout wheel.
struct Xc {
    pipe: Pipeline,
    bucket: u8,
    /// The spec as the session gave it (tuning applied from `[media]` on top).
    asked: TranscodeSpec,
}

/// `generate-RTCP` state of one party: the statistics, and the socket reports leave by.
struct Gen {
    rtcp: Rtcp,
    out: u32,
}

impl Gen {
    fn report(&self) -> RtcpGenReport {
        let r = &self.rtcp;
        let heard = r.sources.iter().filter(|s| s.has_rtp);
        RtcpGenReport {
            reports_sent: r.reports_sent,
            srs_received: r.srs_received,
            rrs_received: r.rrs_received,
            lost: heard.clone().map(|s| s.lost() as i64).sum(),
            highest_seq: heard.clone().map(|s| s.extended_max()).max().unwrap_or(0),
            jitter_us: heard.map(|s| s.jitter_us()).max().unwrap_or(0),
            remote_lost: r.remote.lost,
            remote_fraction_lost: r.remote.fraction_lost,
            rtt_us: r.remote.rtt_ns.map(|n| n / 1000),
        }
    }
}

/// ICE on one socket: the lite responder (default) or a full agent.
enum Ice {
    Lite(IceLite),
    Full(Box<IceFull>),
}

impl Ice {
    fn selected(&self) -> Option<SocketAddr> {
        match self {
            Ice::Lite(i) => i.selected(),
            Ice::Full(f) => f.selected(),
        }
    }
    /// Whether DTLS and media are accepted from `a`: any source that passed a check
    /// (lite), the selected pair (full).
    fn is_validated(&self, a: SocketAddr) -> bool {
        match self {
            Ice::Lite(i) => i.is_validated(a),
            Ice::Full(f) => f.selected() == Some(a),
        }
    }
    fn checks(&self) -> (u64, u64) {
        match self {
            Ice::Lite(i) => (i.checks, i.last_check_ns),
            Ice::Full(f) => (f.checks, f.last_check_ns),
        }
    }
}

/// The WebRTC transport state of one socket (RFC 7983 demultiplexes by first byte).
#[derive(Default)]
struct Rtc {
    ice: Option<Ice>,
    dtls: Option<Dtls>,
    /// What `dtls` was made for: role, the party's fingerprint, association epoch.
    dtls_for: Option<(bool, Fingerprint, u32)>,
    /// DTLS expected but the party's fingerprint not known yet.
    dtls_waiting: bool,
    stun_errors: u64,
    dtls_errors: u64,
    /// Whether the socket is on the table's list of running handshakes.
    timed: bool,
    /// Whether the socket is on the table's list of full ICE agents.
    ice_timed: bool,
}

impl Rtc {
    fn report(&self) -> WebRtcReport {
        let dtls = match &self.dtls {
            None if self.dtls_waiting => DtlsPhase::Waiting,
            None => DtlsPhase::None,
            Some(d) => match d.state {
                dtls::State::Idle => DtlsPhase::Waiting,
                dtls::State::Handshaking => DtlsPhase::Handshaking,
                dtls::State::Connected { .. } => DtlsPhase::Connected,
                dtls::State::Failed(_) => DtlsPhase::Failed,
            },
        };
        WebRtcReport {
            ice_checks: self.ice.as_ref().map_or(0, |i| i.checks().0),
            last_check_ns: self.ice.as_ref().map_or(0, |i| i.checks().1),
            stun_errors: self.stun_errors,
            dtls,
            dtls_errors: self.dtls_errors,
        }
    }
}

struct IfaceAddrs {
    v4: Option<(IpAddr, IpAddr)>,
    v6: Option<(IpAddr, IpAddr)>,
}

pub struct SocketTable {
    socks: Vec<Option<Sock>>,
    free: Vec<u32>,
    count: usize,
    pool: PortPool,
    ifaces: Vec<IfaceAddrs>,
    epoll: sys::Epoll,
    tos: u8,
    rcvbuf: usize,
    window_ns: u64,
    learning: Vec<u32>,
    /// Sockets with a DTLS handshake under way (retransmission and timeout timers).
    handshaking: Vec<u32>,
    /// Sockets running a full ICE agent (its checks and consent timers).
    ice_agents: Vec<u32>,
    /// Sockets with generate-RTCP state (their report timers).
    gens: Vec<u32>,
    rtcp_interval_ns: u64,
    identity: Arc<Identity>,
    crypto: Arc<dyn RTCCryptoProvider>,
    /// Transcoding: the playout clock, `[media]`'s encoder settings, scratch buffers.
    wheel: Wheel,
    due: Vec<Due>,
    tuning: EncoderDefaults,
    pbuf: Box<[u8; MAX_PACKET + MAX_TAG]>,
}

impl SocketTable {
    pub fn new(cfg: &Config, worker: usize, workers: usize, identity: Arc<Identity>) -> std::io::Result<SocketTable> {
        let crypto = rtc_crypto::default_provider().map_err(|e| std::io::Error::other(format!("crypto provider: {e}")))?;
        let ifaces = cfg
            .interfaces
            .iter()
            .map(|i| {
                let i = i.get_ref();
                IfaceAddrs {
                    v4: i.address.map(|a| (a, i.advertise.unwrap_or(a))),
                    v6: i.address6.map(|a| (a, i.advertise6.unwrap_or(a))),
                }
            })
            .collect();
        Ok(SocketTable {
            socks: Vec::new(),
            free: Vec::new(),
            count: 0,
            pool: PortPool::for_worker(*cfg.media.port_min.get_ref(), *cfg.media.port_max.get_ref(), worker, workers),
            ifaces,
            epoll: sys::Epoll::new()?,
            tos: cfg.media.tos,
            rcvbuf: cfg.media.socket_rcvbuf,
            window_ns: cfg.media.learning_window_ms * 1_000_000,
            learning: Vec::new(),
            handshaking: Vec::new(),
            ice_agents: Vec::new(),
            gens: Vec::new(),
            rtcp_interval_ns: cfg.media.rtcp_interval_ms * 1_000_000,
            identity,
            crypto,
            wheel: Wheel::new()?,
            due: Vec::with_capacity(super::playout::BUCKETS),
            tuning: EncoderDefaults {
                opus_complexity: cfg.media.opus_complexity,
                opus_low_delay: cfg.media.opus_application == crate::config::OpusApplication::LowDelay,
                opus_bitrate: cfg.media.opus_bitrate,
                amrwb_bitrate: cfg.media.amrwb_bitrate,
                amrwb_dtx: cfg.media.amrwb_dtx,
            },
            pbuf: Box::new([0; MAX_PACKET + MAX_TAG]),
        })
    }

    /// The playout timer's fd (the worker registers it with its own token).
    pub fn playout_fd(&self) -> RawFd {
        self.wheel.timer.raw()
    }

    /// Transcoded directions on this worker.
    pub fn transcoded(&self) -> usize {
        self.wheel.len()
    }

    /// The playout clock ticked: every transcoded stream whose bucket is due plays one
    /// frame out to the other party.
    pub fn on_playout(&mut self, st: &mut WorkerStats) {
        let now = sys::mono_ns();
        let mut due = std::mem::take(&mut self.due);
        self.wheel.due(now, &mut due);
        for d in &due {
            let members = self.wheel.take(d.bucket);
            for &h in &members {
                let Some(Some(s)) = self.socks.get_mut(h as usize) else { continue };
                let Some(x) = s.xc.as_deref_mut() else { continue };
                let before = x.pipe.stats;
                let n = x.pipe.pull(now, &mut self.pbuf[..]);
                let after = x.pipe.stats;
                st.concealed_frames += after.concealed - before.concealed;
                st.transcode_errors += (after.decode_errors - before.decode_errors) + (after.encode_errors - before.encode_errors);
                st.dtmf_detected += after.dtmf_detected - before.dtmf_detected;
                st.dtmf_played += after.dtmf_played - before.dtmf_played;
                let fwd = s.fwd_rtp;
                if let Some(n) = n {
                    st.transcoded_frames += 1;
                    if d.late_ns > LATE_NS {
                        st.late_frames += 1;
                    }
                    send_own(&mut self.socks, fwd, &mut self.pbuf[..], n, now, st);
                }
                // telephone-event packets eagw originates this period (play DTMF, detected)
                while let Some(n) = match self.socks.get_mut(h as usize) {
                    Some(Some(s)) => s.xc.as_deref_mut().and_then(|x| x.pipe.pull_event(&mut self.pbuf[..])),
                    _ => None,
                } {
                    st.dtmf_events += 1;
                    send_own(&mut self.socks, fwd, &mut self.pbuf[..], n, now, st);
                }
            }
            self.wheel.put_back(d.bucket, members);
        }
        self.due = due;
    }

    /// The worker's epoll instance: the table registers its sockets there.
    pub fn epoll(&self) -> &sys::Epoll {
        &self.epoll
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn ports_in_use(&self) -> usize {
        self.pool.in_use()
    }

    pub fn local_addr(&self, h: Handle) -> Option<SocketAddr> {
        self.get(h).map(|s| s.local)
    }

    fn get(&self, h: Handle) -> Option<&Sock> {
        self.socks.get(h as usize).and_then(|s| s.as_ref())
    }

    fn insert(&mut self, s: Sock) -> Handle {
        self.count += 1;
        if let Some(i) = self.free.pop() {
            self.socks[i as usize] = Some(s);
            i
        } else {
            self.socks.push(Some(s));
            (self.socks.len() - 1) as u32
        }
    }

    fn register(&self, fd: RawFd, h: Handle) -> std::io::Result<()> {
        self.epoll.add(fd, h as u64)
    }

    /// One readable socket: receive one datagram, relay it or count why not.
    #[inline]
    pub fn on_readable(&mut self, h: Handle, buf: &mut [u8], now: u64, st: &mut WorkerStats) {
        let Some(Some(s)) = self.socks.get_mut(h as usize) else { return };
        // room after the packet for an SRTP tag, so it is protected in place
        let cap = buf.len().saturating_sub(MAX_TAG);
        let (len, from) = match sys::recv_from(s.fd.as_raw_fd(), &mut buf[..cap]) {
            Ok(Some(x)) => x,
            Ok(None) => return,
            Err(_) => {
                st.errors += 1;
                return;
            }
        };
        if len > cap {
            // truncated (MSG_TRUNC reports the real length): not a packet we relay
            s.rep.rtp.errors += 1;
            st.junk += 1;
            return;
        }
        if s.rtc.is_some() && len > 0 {
            let pkt = &buf[..len];
            // RFC 7983: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP
            match pkt[0] {
                0..=3 => {
                    // a nomination may start our DTLS client
                    on_stun(s, pkt, from, now, self.crypto.crypto(), st);
                    return self.watch_handshake(h);
                }
                20..=63 => {
                    on_dtls(s, pkt, from, now, st);
                    return self.watch_handshake(h);
                }
                _ => {}
            }
        }
        let (is_rtcp, fwd, hdr) = match classify(&buf[..len]) {
            Kind::Rtp(h) if !s.rtcp_only => (false, s.fwd_rtp, Some(h)),
            Kind::Rtcp(_) => (true, s.fwd_rtcp, None),
            _ => {
                s.rep.rtp.errors += 1;
                st.junk += 1;
                return;
            }
        };
        // SRTP is authenticated before anything else: a packet that fails is never
        // relayed and never used to learn an address. RTP is unprotected in place;
        // SRTCP (a few packets a second) through rtc-srtp into a buffer of its own.
        let mut plain_len = len;
        let mut plain_rtcp = None;
        if s.secure {
            let ok = match s.srtp_rx.as_mut() {
                Some(c) if is_rtcp => c.unprotect(&buf[..len], true).map(|p| plain_rtcp = Some(p)).is_ok(),
                Some(c) => c.unprotect_rtp(&mut buf[..len]).map(|n| plain_len = n).is_ok(),
                None => false,
            };
            if !ok {
                s.rep.rtp.errors += 1;
                st.srtp_errors += 1;
                return;
            }
        }
        match s.ep.on_packet(from, now) {
            Verdict::Accept => {}
            // ICE: media is accepted from every address that passed a check (RFC 8445
            // §12.2: a browser moves to its new pair before it nominates it); it goes
            // only to the nominated one
            Verdict::Foreign if s.rtc.as_ref().and_then(|r| r.ice.as_ref()).is_some_and(|i| i.is_validated(from)) => {}
            Verdict::Foreign => {
                s.rep.foreign += 1;
                st.foreign += 1;
                return;
            }
            Verdict::Learning => {
                if !s.learning {
                    s.learning = true;
                    self.learning.push(h);
                }
                st.learning_drops += 1;
                return;
            }
        }
        let c = if is_rtcp { &mut s.rep.rtcp } else { &mut s.rep.rtp };
        c.packets += 1;
        c.bytes += len as u64;
        s.rep.last_packet_ns = now;
        if let Some(h) = &hdr {
            if let Some(g) = s.gen.as_deref_mut() {
                g.rtcp.on_rtp_received(h, now);
            }
        } else if s.gen.is_some() || s.gen_owner != NONE {
            // generate-RTCP: the party's RTCP is read, never relayed
            let payload = plain_rtcp.as_deref().unwrap_or(&buf[..plain_len]);
            return self.consume_rtcp(h, payload, now, st);
        }
        if let (Some(hd), true) = (&hdr, s.xc.is_some()) {
            return self.transcode_in(h, hd, &buf[..plain_len], now, st);
        }
        if let (Some(hd), true) = (&hdr, s.block_dtmf != 0) {
            if (s.block_dtmf >> (hd.payload_type & 0x7f)) & 1 != 0 {
                st.dtmf_blocked += 1;
                return;
            }
        }
        // (before protection encrypts it in place: the padding count is the last byte)
        let sent_payload = hdr.map_or(0, |h| rtcp::payload_len(&buf[..plain_len], &h));
        let out = match self.socks.get_mut(fwd as usize) {
            Some(Some(o)) => o,
            _ => {
                st.undeliverable += 1;
                return;
            }
        };
        let Some(dst) = out.ep.destination() else {
            st.undeliverable += 1;
            return;
        };
        let sealed_rtcp;
        let wire: &[u8] = if !out.secure {
            plain_rtcp.as_deref().unwrap_or(&buf[..plain_len])
        } else {
            let Some(c) = out.srtp_tx.as_mut() else {
                st.undeliverable += 1;
                return;
            };
            let r = if is_rtcp {
                let p = plain_rtcp.as_deref().unwrap_or(&buf[..plain_len]);
                match c.protect(p, true) {
                    Ok(p) => {
                        sealed_rtcp = p;
                        Some(&sealed_rtcp[..])
                    }
                    Err(_) => None,
                }
            } else {
                c.protect_rtp(buf, plain_len).ok().map(|n| &buf[..n])
            };
            match r {
                Some(w) => w,
                None => {
                    st.undeliverable += 1;
                    return;
                }
            }
        };
        match sys::send_to(out.fd.as_raw_fd(), wire, &dst) {
            Ok(_) => {
                st.packets_relayed += 1;
                st.bytes_relayed += wire.len() as u64;
                if let (Some(h), Some(g)) = (&hdr, out.gen.as_deref_mut()) {
                    g.rtcp.on_rtp_sent(h, sent_payload, now);
                }
            }
            Err(_) => st.undeliverable += 1,
        }
    }

    /// RTP from a transcoded party: into its pipeline's jitter buffer; telephone-event
    /// re-timed and sent at once; an AMR-WB CMR handed to the opposite pipeline.
    #[cold]
    fn transcode_in(&mut self, h: Handle, hd: &RtpHeader, pkt: &[u8], now: u64, st: &mut WorkerStats) {
        let Some(Some(s)) = self.socks.get_mut(h as usize) else { return };
        let fwd = s.fwd_rtp;
        let Some(x) = s.xc.as_deref_mut() else { return };
        let end = hd.payload_offset + rtcp::payload_len(pkt, hd);
        let payload = pkt.get(hd.payload_offset..end).unwrap_or(&[]);
        let before = x.pipe.stats;
        let r = x.pipe.push(now, hd, payload);
        let mut out = [0u8; 64];
        let dtmf = match r {
            PushResult::Dtmf => x.pipe.dtmf(hd, payload, &mut out),
            _ => None,
        };
        let after = x.pipe.stats;
        st.transcode_errors += (after.bad_payload - before.bad_payload) + (after.unknown_pt - before.unknown_pt);
        st.dtmf_tones += after.dtmf_tones - before.dtmf_tones;
        st.dtmf_blocked += after.dtmf_blocked - before.dtmf_blocked;
        if let PushResult::Cmr(m) = r {
            // the party asks for a mode of what it receives: the opposite direction's encoder
            if let Some(Some(o)) = self.socks.get_mut(fwd as usize) {
                if let Some(ox) = o.xc.as_deref_mut() {
                    ox.pipe.apply_cmr(m);
                }
            }
        }
        if let Some(n) = dtmf {
            st.dtmf_events += 1;
            send_own(&mut self.socks, fwd, &mut out, n, now, st);
        }
    }

    /// The party's RTCP on a generate-RTCP stream (authenticated, from the party): its SR
    /// gives the LSR of eagw's next report, its blocks about eagw's stream the RTT.
    #[cold]
    fn consume_rtcp(&mut self, h: Handle, payload: &[u8], now: u64, st: &mut WorkerStats) {
        let Some(Some(s)) = self.socks.get(h as usize) else { return };
        let owner = if s.gen.is_some() { h } else { s.gen_owner };
        let res = match self.socks.get_mut(owner as usize) {
            Some(Some(o)) => o.gen.as_deref_mut().map(|g| g.rtcp.on_rtcp(payload, now)),
            _ => None,
        };
        match res {
            Some(Ok(_)) => st.rtcp_consumed += 1,
            Some(Err(e)) => {
                st.rtcp_errors += 1;
                if let Some(Some(s)) = self.socks.get_mut(h as usize) {
                    s.rep.rtcp.errors += 1;
                    tracing::debug!(local = %s.local, "{e}");
                }
            }
            None => st.rtcp_consumed += 1,
        }
    }

    /// generate-RTCP: the reports that are due, each to its party's RTCP destination
    /// (SRTCP-protected on an SRTP leg).
    fn send_reports(&mut self, now: u64, st: &mut WorkerStats) {
        let mut ntp = None;
        let mut buf = [0u8; 512];
        let mut i = 0;
        while i < self.gens.len() {
            let h = self.gens[i];
            let Some(Some(s)) = self.socks.get_mut(h as usize) else {
                self.gens.swap_remove(i);
                continue;
            };
            let Some(g) = s.gen.as_deref_mut() else {
                s.gen_timed = false;
                self.gens.swap_remove(i);
                continue;
            };
            i += 1;
            if g.rtcp.next_due_ns > now {
                continue;
            }
            if !g.rtcp.active() {
                // nothing sent or received yet: nothing to report
                g.rtcp.schedule(now);
                continue;
            }
            let ntp = *ntp.get_or_insert_with(|| {
                let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
                rtcp::ntp_of_unix_ns(unix)
            });
            let n = g.rtcp.build(now, ntp, &mut buf);
            let out = g.out;
            let Some(Some(o)) = self.socks.get_mut(out as usize) else { continue };
            let (Some(dst), true) = (o.ep.destination(), n > 0) else {
                st.undeliverable += 1;
                continue;
            };
            let sealed;
            let wire: &[u8] = if o.secure {
                match o.srtp_tx.as_mut().map(|c| c.protect(&buf[..n], true)) {
                    Some(Ok(p)) => {
                        sealed = p;
                        &sealed
                    }
                    // no keys yet: nothing goes to an SRTP party in clear
                    _ => {
                        st.undeliverable += 1;
                        continue;
                    }
                }
            } else {
                &buf[..n]
            };
            match sys::send_to(o.fd.as_raw_fd(), wire, &dst) {
                Ok(_) => st.rtcp_generated += 1,
                Err(_) => st.undeliverable += 1,
            }
        }
    }

    /// Closes learning windows that have expired; runs DTLS retransmissions and timeouts;
    /// sends the generate-RTCP reports that are due.
    pub fn tick(&mut self, now: u64, st: &mut WorkerStats) {
        if !self.gens.is_empty() {
            self.send_reports(now, st);
        }
        if !self.ice_agents.is_empty() {
            let t = Instant::now();
            let socks = &mut self.socks;
            self.ice_agents.retain(|&h| {
                let Some(Some(s)) = socks.get_mut(h as usize) else { return false };
                let Some(Ice::Full(f)) = s.rtc.as_mut().and_then(|r| r.ice.as_mut()) else {
                    if let Some(r) = s.rtc.as_mut() {
                        r.ice_timed = false;
                    }
                    return false;
                };
                if f.next_timeout().is_some_and(|due| due <= t) {
                    let moved = f.on_timeout(t);
                    flush_ice(s);
                    if moved {
                        on_selected(s, st);
                    }
                }
                true
            });
            // a selection may have started a DTLS client: its retransmissions need the timer
            for i in 0..self.ice_agents.len() {
                self.watch_handshake(self.ice_agents[i]);
            }
        }
        if !self.handshaking.is_empty() {
            let t = Instant::now();
            let socks = &mut self.socks;
            self.handshaking.retain(|&h| {
                let Some(Some(s)) = socks.get_mut(h as usize) else { return false };
                let Some(r) = s.rtc.as_mut() else { return false };
                let Some(d) = r.dtls.as_mut() else {
                    r.timed = false;
                    return false;
                };
                if d.next_timeout().is_some_and(|due| due <= t) {
                    d.on_timeout(t);
                    if let dtls::State::Failed(why) = &d.state {
                        tracing::warn!(local = %s.local, "{why}");
                        st.dtls_failures += 1;
                    }
                    flush_dtls(s, None);
                }
                let Some(r) = s.rtc.as_mut() else { return false };
                r.timed = r.dtls.as_ref().is_some_and(|d| d.state == dtls::State::Handshaking);
                r.timed
            });
        }
        let socks = &mut self.socks;
        self.learning.retain(|&h| match socks.get_mut(h as usize) {
            Some(Some(s)) => {
                s.ep.on_tick(now);
                s.learning = s.ep.latched().is_none();
                s.learning
            }
            _ => false,
        });
    }

    fn bind_pair(&mut self, ip: IpAddr, rtcp: bool) -> Result<(OwnedFd, Option<OwnedFd>, u16), String> {
        // free ports of ours may still be taken by other programs (an ephemeral port range
        // overlapping ours): try them all, a batch at a time, before giving up
        let mut last_err = String::from("port range exhausted");
        let mut tried = 0;
        loop {
            let batch: Vec<u16> = self.pool.candidates(ip).skip(tried).take(64).collect();
            if batch.is_empty() {
                return Err(last_err);
            }
            tried += batch.len();
            for port in batch {
                let rtp = match sys::bind_udp(SocketAddr::new(ip, port), self.tos, self.rcvbuf) {
                    Ok(fd) => fd,
                    Err(e) => {
                        last_err = format!("{ip}:{port}: {e}");
                        continue;
                    }
                };
                let rtcp_fd = if rtcp {
                    match sys::bind_udp(SocketAddr::new(ip, port + 1), self.tos, self.rcvbuf) {
                        Ok(fd) => Some(fd),
                        Err(e) => {
                            last_err = format!("{ip}:{}: {e}", port + 1);
                            continue;
                        }
                    }
                } else {
                    None
                };
                self.pool.take(ip, port);
                return Ok((rtp, rtcp_fd, port));
            }
        }
    }

    fn new_sock(&mut self, fd: OwnedFd, local: SocketAddr, owns_pair: bool) -> Result<Handle, String> {
        let raw = fd.as_raw_fd();
        let h = self.insert(Sock {
            fd,
            local,
            ep: Endpoint::new(crate::config::Learning::Delayed, self.window_ns),
            fwd_rtp: NONE,
            fwd_rtcp: NONE,
            rtcp_only: false,
            owns_pair,
            learning: false,
            secure: false,
            srtp_rx: None,
            srtp_tx: None,
            rtc: None,
            gen: None,
            gen_timed: false,
            gen_owner: NONE,
            xc: None,
            rep: SocketReport::default(),
            dtmf_blocked: false,
            block_dtmf: 0,
        });
        if let Err(e) = self.register(raw, h) {
            self.close(h);
            return Err(format!("epoll: {e}"));
        }
        Ok(h)
    }
}

impl MediaSockets for SocketTable {
    fn open(&mut self, iface: usize, family: Family, rtcp: bool) -> Result<(LocalPort, Option<LocalPort>), String> {
        let addrs = self.ifaces.get(iface).ok_or("no such interface")?;
        let (bind, adv) = match family {
            Family::Ip4 => addrs.v4,
            Family::Ip6 => addrs.v6,
        }
        .ok_or("interface has no address of that family")?;
        let (rtp_fd, rtcp_fd, port) = self.bind_pair(bind, rtcp)?;
        let rtp_addr = SocketAddr::new(bind, port);
        let h = self.new_sock(rtp_fd, rtp_addr, true)?;
        let rtp = LocalPort { handle: h, bound: rtp_addr, advertised: adv };
        let rtcp = match rtcp_fd {
            Some(fd) => {
                let a = SocketAddr::new(bind, port + 1);
                match self.new_sock(fd, a, false) {
                    Ok(hc) => Some(LocalPort { handle: hc, bound: a, advertised: adv }),
                    Err(e) => {
                        self.close(h);
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        Ok((rtp, rtcp))
    }

    fn close(&mut self, h: Handle) {
        let Some(slot) = self.socks.get_mut(h as usize) else { return };
        let Some(s) = slot.take() else { return };
        self.epoll.delete(s.fd.as_raw_fd());
        if s.owns_pair {
            self.pool.give_back(s.local.ip(), s.local.port());
        }
        self.count -= 1;
        self.free.push(h);
        if s.learning {
            self.learning.retain(|&x| x != h);
        }
        if s.rtc.as_ref().is_some_and(|r| r.timed) {
            self.handshaking.retain(|&x| x != h);
        }
        if s.rtc.as_ref().is_some_and(|r| r.ice_timed) {
            self.ice_agents.retain(|&x| x != h);
        }
        if s.gen_timed {
            self.gens.retain(|&x| x != h);
        }
        if let Some(x) = &s.xc {
            self.wheel.remove(h, x.bucket, x.pipe.cost_us());
        }
    }

    fn wire(&mut self, h: Handle, w: Wiring) {
        let Some(Some(s)) = self.socks.get_mut(h as usize) else { return };
        s.ep.mode = w.learn.mode;
        s.ep.handover = w.learn.handover;
        s.ep.asymmetric = w.learn.asymmetric;
        s.ep.set_sdp(w.peer);
        s.fwd_rtp = w.fwd_rtp.unwrap_or(NONE);
        s.fwd_rtcp = w.fwd_rtcp.unwrap_or(NONE);
        s.rtcp_only = w.rtcp_only;
        match w.transcode {
            Some(spec) if s.xc.as_ref().is_some_and(|x| x.asked == spec) => {}
            Some(spec) => {
                let tuned = spec.tuned(&self.tuning);
                let mut seed = [0u8; 8];
                let _ = self.crypto.random().fill(&mut seed);
                if let Some(old) = s.xc.take() {
                    self.wheel.remove(h, old.bucket, old.pipe.cost_us());
                }
                match Pipeline::new(&tuned, u64::from_le_bytes(seed)) {
                    Ok(mut pipe) => {
                        // a new pipeline (re-negotiated codecs) keeps the party's DTMF block
                        pipe.set_block_dtmf(s.dtmf_blocked);
                        let bucket = self.wheel.add(h, pipe.cost_us(), sys::mono_ns());
                        s.xc = Some(Box::new(Xc { pipe, bucket, asked: spec }));
                    }
                    Err(e) => {
                        tracing::error!(local = %s.local, "transcoder {:?} → {:?}: {e}", spec.rx.kind, spec.tx.kind);
                    }
                }
            }
            None => {
                if let Some(old) = s.xc.take() {
                    self.wheel.remove(h, old.bucket, old.pipe.cost_us());
                }
            }
        }
        match w.rtcp_gen {
            Some(RtcpGen::Report { out, clocks }) => {
                s.gen_owner = NONE;
                if s.gen.is_none() {
                    let mut seed = [0u8; 8];
                    let _ = self.crypto.random().fill(&mut seed);
                    let seed = u64::from_le_bytes(seed) ^ sys::mono_ns() ^ ((h as u64) << 32);
                    s.gen = Some(Box::new(Gen { rtcp: Rtcp::new(seed, self.rtcp_interval_ns, sys::mono_ns()), out }));
                }
                if let Some(g) = s.gen.as_deref_mut() {
                    g.out = out;
                    g.rtcp.set_clocks(&clocks);
                }
                if !s.gen_timed {
                    s.gen_timed = true;
                    self.gens.push(h);
                }
            }
            Some(RtcpGen::Consume { owner }) => {
                s.gen = None;
                s.gen_owner = owner;
            }
            None => {
                s.gen = None;
                s.gen_owner = NONE;
            }
        }
        // a new key is a new context (fresh replay window); the same key keeps its state
        fn keep(cur: &mut Option<Box<Srtp>>, want: Option<SrtpKey>) {
            if cur.as_ref().map(|c| &c.key) == want.as_ref() {
                return;
            }
            *cur = want.and_then(|k| match Srtp::new(k) {
                Ok(c) => Some(Box::new(c)),
                Err(e) => {
                    tracing::error!("SRTP context: {e}");
                    None
                }
            });
        }
        let webrtc = w.ice.is_some() || matches!(w.crypt, Crypt::Dtls { .. });
        if !webrtc {
            s.rtc = None;
        } else {
            let r = s.rtc.get_or_insert_with(Default::default);
            match (w.ice, &mut r.ice) {
                (Some(spec), cur) => match spec.full {
                    None => match cur {
                        Some(Ice::Lite(i)) => i.restart(spec.local),
                        _ => *cur = Some(Ice::Lite(IceLite::new(spec.local))),
                    },
                    Some(full) => {
                        // a full agent is rebuilt when anything of its ICE session changes
                        let same = matches!(cur, Some(Ice::Full(f)) if f.spec == full && f.local == spec.local);
                        if !same {
                            match IceFull::new(s.local, spec.local, full, Instant::now()) {
                                Ok(f) => {
                                    *cur = Some(Ice::Full(Box::new(f)));
                                    if !r.ice_timed {
                                        r.ice_timed = true;
                                        self.ice_agents.push(h);
                                    }
                                }
                                Err(e) => {
                                    tracing::error!("{e}");
                                    *cur = None;
                                }
                            }
                        }
                    }
                },
                (None, ice) => *ice = None,
            }
        }
        match w.crypt {
            Crypt::Plain => {
                s.secure = false;
                s.srtp_rx = None;
                s.srtp_tx = None;
            }
            Crypt::Srtp { rx, tx } => {
                s.secure = true;
                keep(&mut s.srtp_rx, rx);
                keep(&mut s.srtp_tx, tx);
            }
            Crypt::Dtls { client, remote, epoch } => {
                s.secure = true;
                let want = remote.map(|f| (client, f, epoch));
                let r = s.rtc.get_or_insert_with(Default::default);
                r.dtls_waiting = want.is_none();
                if r.dtls_for != want {
                    // a new association: new keys come from its handshake
                    r.dtls = match &want {
                        Some((c, f, _)) => match Dtls::new(&self.identity, *c, f) {
                            Ok(d) => Some(d),
                            Err(e) => {
                                tracing::error!("{e}");
                                None
                            }
                        },
                        None => None,
                    };
                    r.dtls_for = want;
                    s.srtp_rx = None;
                    s.srtp_tx = None;
                    start_client(s);
                    self.watch_handshake(h);
                }
            }
        }
    }

    fn report(&self, h: Handle) -> SocketReport {
        match self.get(h) {
            Some(s) => SocketReport {
                latched: s.ep.latched(),
                webrtc: s.rtc.as_ref().map(|r| r.report()),
                rtcp_gen: s.gen.as_ref().map(|g| g.report()),
                transcode: s.xc.as_ref().map(|x| x.pipe.report()),
                ..s.rep
            },
            None => SocketReport::default(),
        }
    }

    fn block_dtmf(&mut self, h: Handle, on: bool, pts: &[u8]) {
        let Some(Some(s)) = self.socks.get_mut(h as usize) else { return };
        s.dtmf_blocked = on;
        s.block_dtmf = if on { pts.iter().fold(0u128, |m, &p| m | 1u128 << (p & 0x7f)) } else { 0 };
        if let Some(x) = s.xc.as_deref_mut() {
            x.pipe.set_block_dtmf(on);
        }
    }

    fn play_dtmf(&mut self, h: Handle, digits: &[crate::media::transcode::PlayDigit]) -> Result<(), String> {
        let Some(Some(s)) = self.socks.get_mut(h as usize) else { return Err("no such stream".into()) };
        let Some(x) = s.xc.as_deref_mut() else {
            return Err("the party's audio is not transcoded: eagw injects DTMF into transcoded streams only \
                        (offer with inject-DTMF, codec-transcode-<codec> or always-transcode)"
                .into());
        };
        if x.pipe.play_dtmf(digits) {
            Ok(())
        } else {
            Err("too many DTMF digits waiting to play on this stream (64)".into())
        }
    }
}

impl SocketTable {
    /// Once a second: ICE sockets whose party stopped its consent checks 30 s ago stop
    /// sending to it (RFC 7675); a new nomination restores the stream.
    pub fn sweep_consent(&mut self, now: u64, st: &mut WorkerStats) {
        for s in self.socks.iter_mut().flatten() {
            let Some(Ice::Lite(ice)) = s.rtc.as_mut().and_then(|r| r.ice.as_mut()) else { continue };
            if ice.expire_consent(now) {
                tracing::info!(local = %s.local, peer = ?s.ep.latched(), "ICE consent expired: not sending to the party");
                s.ep.unselect();
                st.consent_expired += 1;
            }
        }
    }

    /// Puts a socket whose handshake is running on the timer list.
    fn watch_handshake(&mut self, h: Handle) {
        let Some(Some(s)) = self.socks.get_mut(h as usize) else { return };
        let Some(r) = s.rtc.as_mut() else { return };
        if !r.timed && r.dtls.as_ref().is_some_and(|d| d.state == dtls::State::Handshaking) {
            r.timed = true;
            self.handshaking.push(h);
        }
    }
}

/// Where DTLS for the party goes: the ICE-nominated address, else the latched/SDP one.
/// Sends a packet eagw made (a transcoded frame, a re-timed DTMF event) to the party of
/// socket `out`: SRTP-protected in place on an SRTP leg (`buf` has room for the tag),
/// counted in that party's generate-RTCP sender statistics.
fn send_own(socks: &mut [Option<Sock>], out: u32, buf: &mut [u8], n: usize, now: u64, st: &mut WorkerStats) {
    let Some(Some(o)) = socks.get_mut(out as usize) else {
        st.undeliverable += 1;
        return;
    };
    let Some(dst) = o.ep.destination() else {
        st.undeliverable += 1;
        return;
    };
    let Kind::Rtp(h) = classify(&buf[..n]) else { return };
    let wire_len = if o.secure {
        match o.srtp_tx.as_mut().map(|c| c.protect_rtp(buf, n)) {
            Some(Ok(m)) => m,
            _ => {
                st.undeliverable += 1;
                return;
            }
        }
    } else {
        n
    };
    match sys::send_to(o.fd.as_raw_fd(), &buf[..wire_len], &dst) {
        Ok(_) => {
            st.packets_relayed += 1;
            st.bytes_relayed += wire_len as u64;
            if let Some(g) = o.gen.as_deref_mut() {
                g.rtcp.on_rtp_sent(&h, n - h.payload_offset, now);
            }
        }
        Err(_) => st.undeliverable += 1,
    }
}

fn dtls_destination(s: &Sock) -> Option<SocketAddr> {
    match s.rtc.as_ref().and_then(|r| r.ice.as_ref()) {
        Some(ice) => ice.selected(),
        None => s.ep.destination(),
    }
}

/// Sends what the DTLS association has queued (to `to`, else the party's address).
fn flush_dtls(s: &mut Sock, to: Option<SocketAddr>) {
    let dst = to.or_else(|| dtls_destination(s));
    let fd = s.fd.as_raw_fd();
    let Some(d) = s.rtc.as_mut().and_then(|r| r.dtls.as_mut()) else { return };
    while let Some(p) = d.poll_transmit() {
        if let Some(dst) = dst {
            let _ = sys::send_to(fd, &p, &dst);
        }
    }
}

/// The client role begins once it knows where the party is (ICE nominated it).
fn start_client(s: &mut Sock) {
    let Some(dst) = dtls_destination(s) else { return };
    let Some(d) = s.rtc.as_mut().and_then(|r| r.dtls.as_mut()) else { return };
    if d.client && d.state == dtls::State::Idle {
        d.start(Instant::now());
        flush_dtls(s, Some(dst));
    }
}

/// A STUN datagram: an ICE check to answer (and perhaps a nomination), or an error.
#[cold]
fn on_stun(s: &mut Sock, pkt: &[u8], from: SocketAddr, now: u64, crypto: &dyn rtc_crypto::RTCCrypto, st: &mut WorkerStats) {
    let fd = s.fd.as_raw_fd();
    let Some(r) = s.rtc.as_mut() else { return };
    let ice = match r.ice.as_mut() {
        Some(Ice::Lite(i)) => i,
        Some(Ice::Full(f)) => {
            match f.on_stun(pkt, from, Instant::now(), now) {
                Ok(moved) => {
                    st.ice_checks += 1;
                    flush_ice(s);
                    if moved {
                        on_selected(s, st);
                    }
                }
                Err(e) => {
                    r.stun_errors += 1;
                    st.stun_errors += 1;
                    tracing::debug!(local = %s.local, peer = %from, "{e}");
                }
            }
            return;
        }
        None => {
            r.stun_errors += 1;
            st.stun_errors += 1;
            return;
        }
    };
    match ice.on_stun(pkt, from, now, crypto) {
        Outcome::Answer { reply, nominated } => {
            st.ice_checks += 1;
            let _ = sys::send_to(fd, &reply, &from);
            if nominated {
                tracing::debug!(local = %s.local, peer = %from, "ICE nominated");
                s.ep.select(from);
                start_client(s);
            }
        }
        Outcome::Reject { reply, reason } => {
            r.stun_errors += 1;
            st.stun_errors += 1;
            tracing::debug!(local = %s.local, peer = %from, "{reason}");
            let _ = sys::send_to(fd, &reply, &from);
        }
        Outcome::Ignore { error } => {
            if let Some(e) = error {
                r.stun_errors += 1;
                st.stun_errors += 1;
                tracing::debug!(local = %s.local, peer = %from, "{e}");
            }
        }
    }
}

/// A DTLS datagram: accepted only from an address ICE validated (or, without ICE, the
/// party's); when it completes the handshake the SRTP contexts are installed.
#[cold]
fn on_dtls(s: &mut Sock, pkt: &[u8], from: SocketAddr, now: u64, st: &mut WorkerStats) {
    let Some(r) = s.rtc.as_mut() else { return };
    let allowed = match &r.ice {
        Some(ice) => ice.is_validated(from),
        None => s.ep.on_packet(from, now) == Verdict::Accept,
    };
    let Some(d) = r.dtls.as_mut().filter(|_| allowed) else {
        r.dtls_errors += 1;
        st.dtls_errors += 1;
        return;
    };
    let was_failed = matches!(d.state, dtls::State::Failed(_));
    match d.on_packet(pkt, Instant::now()) {
        Ok(Some(keys)) => {
            st.dtls_handshakes += 1;
            tracing::debug!(local = %s.local, peer = %from, suite = keys.rx.suite.name(), "DTLS-SRTP established");
            s.srtp_rx = Srtp::new(keys.rx).ok().map(Box::new);
            s.srtp_tx = Srtp::new(keys.tx).ok().map(Box::new);
        }
        Ok(None) => {}
        Err(e) => {
            r.dtls_errors += 1;
            st.dtls_errors += 1;
            if let (false, Some(dtls::State::Failed(why))) = (was_failed, r.dtls.as_ref().map(|d| &d.state)) {
                tracing::warn!(local = %s.local, peer = %from, "DTLS handshake failed: {why}");
                st.dtls_failures += 1;
            } else {
                tracing::debug!(local = %s.local, peer = %from, "{e}");
            }
        }
    }
    // the reply goes back to where the flight came from (a validated address)
    flush_dtls(s, Some(from));
}

/// Sends what a full ICE agent has queued (checks, responses).
fn flush_ice(s: &mut Sock) {
    let fd = s.fd.as_raw_fd();
    let Some(Ice::Full(f)) = s.rtc.as_mut().and_then(|r| r.ice.as_mut()) else { return };
    while let Some((to, p)) = f.poll_transmit() {
        let _ = sys::send_to(fd, &p, &to);
    }
}

/// A full agent selected a pair (or lost it: consent): media follows.
fn on_selected(s: &mut Sock, st: &mut WorkerStats) {
    match s.rtc.as_ref().and_then(|r| r.ice.as_ref()).and_then(|i| i.selected()) {
        Some(a) => {
            tracing::debug!(local = %s.local, peer = %a, "ICE (full) selected");
            s.ep.select(a);
            start_client(s);
        }
        None => {
            tracing::info!(local = %s.local, "ICE failed or consent lost: not sending to the party");
            s.ep.unselect();
            st.consent_expired += 1;
        }
    }
}
