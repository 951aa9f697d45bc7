//! What `query` and `delete` report about a call (rtpengine's layout: `totals`, `tags` →
//! `medias` → `streams` → `stats`), as typed data; the control plane encodes it.

use super::{Call, Counters, MediaSockets};
use std::net::SocketAddr;

#[derive(Clone, Debug, Default)]
pub struct CallReport {
    pub call_id: String,
    pub created_us: u64,
    pub last_signal: u64,
    pub timed_out: bool,
    pub legs: Vec<LegReport>,
    pub totals_rtp: Counters,
    pub totals_rtcp: Counters,
}

#[derive(Clone, Debug, Default)]
pub struct LegReport {
    pub tag: String,
    pub aliases: Vec<String>,
    pub via_branch: Option<String>,
    pub label: Option<String>,
    pub created: u64,
    pub in_dialogue_with: Option<String>,
    pub medias: Vec<MediaReport>,
}

#[derive(Clone, Debug, Default)]
pub struct MediaReport {
    pub index: usize,
    pub kind: String,
    pub protocol: String,
    pub flags: Vec<&'static str>,
    pub streams: Vec<StreamReport>,
}

#[derive(Clone, Debug)]
pub struct StreamReport {
    pub local: SocketAddr,
    /// The address written in SDP for this stream.
    pub advertised: SocketAddr,
    /// The peer's address: learned, else from SDP.
    pub endpoint: Option<SocketAddr>,
    /// The peer's address from SDP.
    pub sdp_endpoint: Option<SocketAddr>,
    /// UNIX seconds of the last packet (0 = none).
    pub last_packet: u64,
    pub rtcp: bool,
    pub flags: Vec<&'static str>,
    pub stats: Counters,
    pub foreign: u64,
    /// The SRTP suite when eagw terminates SDES-SRTP towards the party.
    pub crypto_suite: Option<&'static str>,
    /// ICE and DTLS of a WebRTC stream.
    pub webrtc: Option<super::WebRtcReport>,
    /// generate-RTCP statistics of the stream (its RTP socket).
    pub rtcp_gen: Option<super::RtcpGenReport>,
    /// Transcoding of what the party sends.
    pub transcode: Option<super::TranscodeReport>,
}

/// Converts a monotonic ns stamp to UNIX seconds, given both clocks now.
fn unix_of(mono_ns: u64, now_mono_ns: u64, now_unix: u64) -> u64 {
    if mono_ns == 0 {
        return 0;
    }
    now_unix.saturating_sub(now_mono_ns.saturating_sub(mono_ns) / 1_000_000_000)
}

impl Call {
    pub fn report(&self, socks: &dyn MediaSockets, now_mono_ns: u64) -> CallReport {
        let now_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut r = CallReport {
            call_id: self.call_id.clone(),
            created_us: self.created_us,
            last_signal: self.last_signal,
            timed_out: self.timed_out,
            ..Default::default()
        };
        for leg in &self.legs {
            let mut lr = LegReport {
                tag: leg.tag.clone(),
                aliases: leg.aliases.clone(),
                via_branch: leg.via_branch.clone(),
                label: leg.label.clone(),
                created: leg.created,
                in_dialogue_with: leg.peer.and_then(|p| self.legs.get(p)).map(|p| p.tag.clone()),
                medias: vec![],
            };
            for m in &leg.medias {
                let mut flags = vec![];
                if m.rtp.is_some() {
                    flags.push("initialized");
                }
                if m.remote.is_some() {
                    flags.extend(["send", "recv"]);
                }
                if m.rtcp_mux {
                    flags.push("rtcp-mux");
                }
                let suite = m.sdes_remote.as_ref().map(|c| c.key.suite.name());
                if suite.is_some() {
                    flags.push("SDES");
                }
                if m.ice_local.is_some() {
                    flags.push("ICE");
                }
                if let Some(d) = &m.dtls {
                    flags.push("DTLS-SRTP");
                    flags.push(if d.client() { "DTLS role active" } else { "DTLS role passive" });
                }
                let mut mr = MediaReport { index: m.index, kind: m.kind.clone(), protocol: m.proto.clone(), flags, streams: vec![] };
                for (port, rtcp, sdp_ep) in [(m.rtp, false, m.remote), (m.rtcp, true, m.remote_rtcp)] {
                    let Some(p) = port else { continue };
                    let rep = socks.report(p.handle);
                    let mut stats = rep.rtp;
                    stats.add(&rep.rtcp);
                    stats.errors += rep.foreign;
                    let mut flags = vec![if rtcp { "RTCP" } else { "RTP" }];
                    if rep.latched.is_some() {
                        flags.push("confirmed");
                    }
                    if !self.learn.handover {
                        flags.push("strict source address");
                    } else {
                        flags.push("media handover");
                    }
                    r.totals_rtp.add(&rep.rtp);
                    r.totals_rtcp.add(&rep.rtcp);
                    r.totals_rtp.errors += rep.foreign;
                    mr.streams.push(StreamReport {
                        local: p.bound,
                        advertised: SocketAddr::new(p.advertised, p.bound.port()),
                        endpoint: rep.latched.or(sdp_ep),
                        sdp_endpoint: sdp_ep,
                        last_packet: unix_of(rep.last_packet_ns, now_mono_ns, now_unix),
                        rtcp,
                        flags,
                        stats,
                        foreign: rep.foreign,
                        crypto_suite: suite,
                        webrtc: rep.webrtc,
                        rtcp_gen: rep.rtcp_gen,
                        transcode: rep.transcode,
                    });
                }
                lr.medias.push(mr);
            }
            r.legs.push(lr);
        }
        r
    }

    /// Monotonic ns of the last packet on any stream of the call (0 = none).
    pub fn last_packet_ns(&self, socks: &dyn MediaSockets) -> u64 {
        self.handles().map(|h| socks.report(h).last_packet_ns).max().unwrap_or(0)
    }
}
