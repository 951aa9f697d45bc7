//! The session model: calls, legs (rtpengine's monologues), media and their streams,
//! and the offer/answer state machine that rewrites SDP.
//!
//! A call has two or more legs. Each leg faces one SIP party and owns, per media section,
//! the local sockets that party sends to (advertised to it in the SDP eagw sends it) and
//! what eagw knows of the party's own addresses. Two legs in dialogue relay to each other:
//! a packet from party A arrives on a socket of leg A and leaves through the matching
//! socket of leg B towards party B.
//!
//! The session never touches sockets: it asks a [`MediaSockets`] implementation (the
//! worker) to open, wire up and close them. Later transports (ICE, DTLS, SRTP) hang off
//! the same streams.

pub mod call;
pub mod codecs;
pub mod dtmf;
pub mod options;
pub mod report;
pub mod testing;
#[cfg(test)]
mod tests;
pub mod webrtc;

pub use call::{Call, Leg, MediaState};
pub use options::{DtlsMode, IceMode, Options, RtcpMuxOpts};

use crate::config::Learning;
use crate::sdp::Family;
use crate::transport::dtls::Fingerprint;
use crate::transport::ice::Creds;
use crate::transport::sdes::SrtpKey;
use std::net::{IpAddr, SocketAddr};

/// A socket handle given out by [`MediaSockets::open`].
pub type Handle = u32;

/// One bound local media socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalPort {
    pub handle: Handle,
    /// The address the socket is bound to.
    pub bound: SocketAddr,
    /// The address written into SDP (the bound one unless the interface advertises another).
    pub advertised: IpAddr,
}

/// How a socket learns its peer (from the call's flags; the window length is config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearnOpts {
    pub mode: Learning,
    pub handover: bool,
    pub asymmetric: bool,
}

/// How a socket's party protects media.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Crypt {
    /// Plain RTP, or SRTP relayed end to end untouched.
    #[default]
    Plain,
    /// eagw terminates SRTP towards the party: `rx` decrypts what the party sends, `tx`
    /// encrypts what eagw sends it. None while not negotiated: nothing passes then.
    Srtp { rx: Option<SrtpKey>, tx: Option<SrtpKey> },
    /// eagw terminates DTLS-SRTP towards the party: SRTP keys come from the handshake.
    /// `remote` None: the party's fingerprint is not known yet (nothing passes, DTLS is
    /// dropped until it is). A new `epoch` is a new association.
    Dtls { client: bool, remote: Option<Fingerprint>, epoch: u32 },
}

/// The wiring of one socket: who may send to it, and where what it receives goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wiring {
    /// The peer's address from SDP (None: not known yet or a zero address).
    pub peer: Option<SocketAddr>,
    pub learn: LearnOpts,
    /// RTP received here leaves through this socket (towards that socket's peer).
    pub fwd_rtp: Option<Handle>,
    /// RTCP received here leaves through this socket.
    pub fwd_rtcp: Option<Handle>,
    /// Whether this socket is an RTCP-only socket (RTP arriving here is an error).
    pub rtcp_only: bool,
    pub crypt: Crypt,
    /// eagw does ICE towards the party: the socket answers checks (and, full, sends its
    /// own) and sends only to the address nominated.
    pub ice: Option<IceSpec>,
    /// `generate-RTCP`: eagw consumes the party's RTCP and sends its own (None: relayed).
    pub rtcp_gen: Option<RtcpGen>,
    /// Transcoding: RTP from the party is decoded and re-encoded for the other party
    /// (None: relayed as it is). Only on the RTP socket.
    pub transcode: Option<crate::media::transcode::TranscodeSpec>,
}

/// `generate-RTCP` on one socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcpGen {
    /// On the RTP socket facing the party: it keeps eagw's RTCP state towards the party
    /// (what the party sends, what eagw sends it) and sends the reports out of `out`
    /// (itself with rtcp-mux, else the leg's RTCP socket). `clocks`: RTP clock rate per
    /// payload type, from the SDP (the party's own numbers win over the other side's).
    Report { out: Handle, clocks: Vec<(u8, u32)> },
    /// On a separate RTCP socket: the party's RTCP feeds the state kept on `owner`.
    Consume { owner: Handle },
}

/// ICE on one socket: our credentials, and for a full agent the party's side too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceSpec {
    pub local: Creds,
    /// None: ICE-lite (the default).
    pub full: Option<crate::transport::ice_full::FullIce>,
}

/// Per-socket counters of packets received from the socket's peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub errors: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.errors += o.errors;
    }
}

/// What a socket reports for `query`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketReport {
    pub rtp: Counters,
    pub rtcp: Counters,
    /// Packets dropped because they came from an address other than the peer's.
    pub foreign: u64,
    /// Monotonic ns of the last accepted packet (0 = none).
    pub last_packet_ns: u64,
    pub latched: Option<SocketAddr>,
    /// The ICE / DTLS state of the socket, when it does WebRTC.
    pub webrtc: Option<WebRtcReport>,
    /// What eagw computed for its own RTCP towards the party (`generate-RTCP`).
    pub rtcp_gen: Option<RtcpGenReport>,
    /// Transcoding of what the party sends (its RTP socket).
    pub transcode: Option<TranscodeReport>,
}

/// What `query` shows of a transcoded direction (on the socket facing the sender).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TranscodeReport {
    pub codec_in: &'static str,
    pub codec_out: &'static str,
    pub frames_in: u64,
    pub frames_out: u64,
    pub concealed: u64,
    /// Payloads or frames that could not be used (bad framing, garbage, unknown PT).
    pub errors: u64,
    pub dtmf_out: u64,
    /// The jitter buffer's target, and the mean delay it added to played frames (ms).
    pub jitter_target_ms: u32,
    pub added_delay_ms: u32,
}

/// What `query` shows of `generate-RTCP` on a stream (the RTP socket facing the party).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcpGenReport {
    /// Reports eagw sent the party; SRs and report blocks about eagw's stream it sent back.
    pub reports_sent: u64,
    pub srs_received: u64,
    pub rrs_received: u64,
    /// From what the party sends (summed / the worst over its SSRCs): cumulative loss,
    /// highest extended sequence number, interarrival jitter in µs.
    pub lost: i64,
    pub highest_seq: u32,
    pub jitter_us: u64,
    /// From the party's last report block about eagw's stream: its loss, and the RTT.
    pub remote_lost: i32,
    pub remote_fraction_lost: u8,
    pub rtt_us: Option<u64>,
}

/// What `query` shows of a WebRTC socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WebRtcReport {
    /// Authenticated connectivity / consent checks answered, and the last one (mono ns).
    pub ice_checks: u64,
    pub last_check_ns: u64,
    /// STUN that failed authentication or parsing.
    pub stun_errors: u64,
    pub dtls: DtlsPhase,
    pub dtls_errors: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DtlsPhase {
    #[default]
    None,
    Waiting,
    Handshaking,
    Connected,
    /// The handshake failed (wrong fingerprint, timeout, alert): see the log for why.
    Failed,
}

impl DtlsPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            DtlsPhase::None => "none",
            DtlsPhase::Waiting => "waiting",
            DtlsPhase::Handshaking => "handshaking",
            DtlsPhase::Connected => "connected",
            DtlsPhase::Failed => "failed",
        }
    }
}

/// The worker side of the session: sockets and their wiring.
pub trait MediaSockets {
    /// Opens an RTP socket on interface `iface` of `family`, and an RTCP socket on the
    /// next (odd) port when `rtcp` is true.
    fn open(&mut self, iface: usize, family: Family, rtcp: bool) -> Result<(LocalPort, Option<LocalPort>), String>;
    fn close(&mut self, h: Handle);
    fn wire(&mut self, h: Handle, w: Wiring);
    fn report(&self, h: Handle) -> SocketReport;
    /// `play DTMF` into the transcoded stream of the party this socket faces; Err (why)
    /// if the stream is not transcoded or the queue is full.
    fn play_dtmf(&mut self, h: Handle, digits: &[crate::media::transcode::PlayDigit]) -> Result<(), String>;
    /// `block DTMF` / `unblock DTMF` for the party this socket faces: its telephone-event
    /// packets (`pts`) are dropped, and on a transcoded stream its in-band digits muted.
    fn block_dtmf(&mut self, h: Handle, on: bool, pts: &[u8]);
}

/// The interfaces a session may choose from (names from config, in config order).
#[derive(Clone, Debug)]
pub struct Interfaces {
    pub names: Vec<String>,
    /// Whether the interface has an IPv4 / IPv6 address.
    pub families: Vec<(bool, bool)>,
    /// eagw's DTLS certificate fingerprint (`sha-256 AB:...`) for `a=fingerprint`.
    pub fingerprint: String,
}

impl Interfaces {
    pub fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }
    pub fn has(&self, i: usize, f: Family) -> bool {
        self.families.get(i).is_some_and(|&(v4, v6)| if f == Family::Ip4 { v4 } else { v6 })
    }
}

/// A failed command: `result: error` with this reason, or `result: load limit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NgError {
    pub reason: String,
    pub load_limit: bool,
}

impl NgError {
    pub fn new(reason: impl Into<String>) -> NgError {
        NgError { reason: reason.into(), load_limit: false }
    }
}

impl std::fmt::Display for NgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}
