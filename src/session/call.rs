//! Call, Leg and MediaState, and the offer/answer processing that rewrites SDP.

use super::codecs::{self, Fmt, XcodeSide};
use super::options::DtlsMode;
use super::webrtc::{self, DtlsSide, Setup};
use super::{
    Crypt, Handle, IceMode, Interfaces, LearnOpts, LocalPort, MediaSockets, NgError, Options, RtcpGen, Wiring,
};
use crate::media::transcode::{CodecKind, EncoderSettings, TranscodeSpec};
use crate::config::Learning;
use crate::transport::ice::Creds;
use crate::sdp::{self, Family, Line, Media, Sdp};
use crate::transport::sdes::{self, Crypto, SrtpKey};
use std::net::{IpAddr, SocketAddr};

#[derive(Debug)]
pub struct Call {
    pub call_id: String,
    /// UNIX time of creation, µs.
    pub created_us: u64,
    /// UNIX time of the last offer/answer, s.
    pub last_signal: u64,
    pub legs: Vec<Leg>,
    pub learn: LearnOpts,
    /// Set when no media flowed for the configured timeout and the action is `mark`.
    pub timed_out: bool,
    /// Monotonic ns of the last signalling event (media timeout counts from here too).
    pub last_activity_ns: u64,
    /// `generate-RTCP`: eagw terminates RTCP on every leg and sends its own SR/RR.
    pub generate_rtcp: bool,
    /// Notes for the reply to the current command (`warning`).
    pub notes: Vec<String>,
    /// The last offer's `codec-set` (and `codec-transcode` specs with settings): what
    /// eagw's encoder for each codec does on this call.
    pub enc_sets: Vec<(CodecKind, EncoderSettings)>,
}

#[derive(Debug)]
pub struct Leg {
    /// The SIP tag of the party; empty while an offered branch has not answered.
    pub tag: String,
    /// Earlier tags of this leg (forked answers on the same branch).
    pub aliases: Vec<String>,
    pub via_branch: Option<String>,
    pub label: Option<String>,
    pub created: u64,
    /// The leg this one relays with.
    pub peer: Option<usize>,
    pub medias: Vec<MediaState>,
}

#[derive(Debug, Clone)]
pub struct MediaState {
    pub index: usize,
    pub kind: String,
    /// Transport protocol the party uses (from its SDP, or what we offered it).
    pub proto: String,
    pub iface: usize,
    pub family: Family,
    pub rtp: Option<LocalPort>,
    pub rtcp: Option<LocalPort>,
    /// The party's addresses from its SDP (None: zero address or not known yet).
    pub remote: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
    /// rtcp-mux in effect towards this party.
    pub rtcp_mux: bool,
    /// The party offered rtcp-mux (only meaningful for the offering leg).
    pub offered_mux: bool,
    /// Port 0: the stream is rejected.
    pub rejected: bool,
    /// SDES towards this party when eagw terminates SRTP: our keys (offered, then the one
    /// agreed), the party's offered keys, and the party's agreed key.
    pub sdes_local: Vec<Crypto>,
    pub sdes_offered: Vec<Crypto>,
    pub sdes_remote: Option<Crypto>,
    /// The party's `a=mid` (echoed into answers that lack one).
    pub mid: Option<String>,
    /// ICE towards this party: our credentials (Some: eagw is the ICE agent, lite or full, facing
    /// it) and the party's.
    pub ice_local: Option<Creds>,
    pub ice_remote: Option<Creds>,
    /// The party's candidates (component 1, `a=candidate` values), whether it is lite,
    /// and whether eagw runs full ICE towards it (and controls).
    pub ice_candidates: Vec<String>,
    pub ice_remote_lite: bool,
    pub ice_full: bool,
    pub ice_controlling: bool,
    /// DTLS-SRTP towards this party, terminated by eagw.
    pub dtls: Option<DtlsSide>,
    /// RTP clock rate per payload type of the party's SDP (rtpmap, else RFC 3551 static).
    pub clocks: Vec<(u8, u32)>,
    /// The codecs the party offered, in its order (when it was the offerer).
    pub offered: Vec<Fmt>,
    /// Transcoding: what this party speaks (None: the stream is passed through).
    pub xcode: Option<XcodeSide>,
    /// The party's `a=ptime` (what it prefers to receive), and the packetization ng's
    /// `ptime` / `ptime-reverse` asked towards it; eagw honours them when it transcodes.
    pub ptime: Option<u32>,
    pub ptime_out: Option<u32>,
    /// The party's telephone-event payload types (for `block DTMF`).
    pub te_pts: Vec<u8>,
    /// `inject DTMF` was asked in the offer: the answer transcodes even a shared codec.
    pub inject_dtmf: bool,
}

impl MediaState {
    /// eagw terminates SRTP towards this party.
    pub fn terminates_srtp(&self) -> bool {
        !self.sdes_local.is_empty() || !self.sdes_offered.is_empty()
    }

    fn crypt(&self) -> Crypt {
        if let Some(d) = &self.dtls {
            return Crypt::Dtls { client: d.client(), remote: d.remote.clone(), epoch: d.epoch };
        }
        if !self.terminates_srtp() {
            return Crypt::Plain;
        }
        match &self.sdes_remote {
            Some(r) => Crypt::Srtp {
                rx: Some(r.key.clone()),
                tx: self.sdes_local.iter().find(|c| c.tag == r.tag).map(|c| c.key.clone()),
            },
            None => Crypt::Srtp { rx: None, tx: None },
        }
    }

    fn clear_sdes(&mut self) {
        self.sdes_local.clear();
        self.sdes_offered.clear();
        self.sdes_remote = None;
    }
}

fn crypto_lines(m: &Media) -> Vec<Crypto> {
    m.attrs("crypto").filter_map(sdes::parse_crypto).collect()
}

fn set_crypto_lines(m: &mut Media, cs: &[Crypto]) {
    m.remove_attrs(|n, _| n == "crypto");
    for c in cs {
        m.lines.push(Line { kind: b'a', value: sdes::format_crypto(c) });
    }
}

impl Leg {
    fn new(tag: &str, now_s: u64) -> Leg {
        Leg {
            tag: tag.to_string(),
            aliases: vec![],
            via_branch: None,
            label: None,
            created: now_s,
            peer: None,
            medias: vec![],
        }
    }

    pub fn has_tag(&self, t: &str) -> bool {
        !t.is_empty() && (self.tag == t || self.aliases.iter().any(|a| a == t))
    }
}

/// Which protocols eagw can relay without terminating security (this issue).
fn proto_kind(p: &str) -> ProtoKind {
    let u = p.to_ascii_uppercase();
    // RTP profiles only: TCP/TLS/BFCP (or a mangled UDP/TLSAVPF) is no DTLS-SRTP, and
    // must not be turned into RTP/AVP with formats that are no payload types
    if !u.split('/').any(|part| part == "RTP") {
        ProtoKind::Other
    } else if u.contains("TLS") {
        ProtoKind::Dtls
    } else if u.contains("SAVP") {
        ProtoKind::Sdes
    } else if u.starts_with("RTP/AVP") {
        ProtoKind::Plain
    } else {
        ProtoKind::Other
    }
}

#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum ProtoKind {
    Plain,
    Sdes,
    Dtls,
    Other,
}

/// Normalises Kamailio's transport-protocol spellings (`RTP`, `AVPF`, `SRTP`, ...).
pub fn normalize_proto(p: &str) -> Option<&'static str> {
    Some(match p.to_ascii_uppercase().as_str() {
        "RTP/AVP" | "RTP" | "AVP" => "RTP/AVP",
        "RTP/AVPF" | "AVPF" => "RTP/AVPF",
        "RTP/SAVP" | "SRTP" | "SAVP" => "RTP/SAVP",
        "RTP/SAVPF" | "SAVPF" => "RTP/SAVPF",
        "UDP/TLS/RTP/SAVP" => "UDP/TLS/RTP/SAVP",
        "UDP/TLS/RTP/SAVPF" => "UDP/TLS/RTP/SAVPF",
        _ => return None,
    })
}

const ICE_ATTRS: &[&str] = &[
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "ice-pacing",
    "candidate",
    "remote-candidates",
    "end-of-candidates",
];

/// The party's `a=ptime` when eagw can send it (20, 40 or 60 ms).
fn ptime_of(m: &Media) -> Option<u32> {
    m.attr("ptime").and_then(|v| v.trim().parse().ok()).filter(|p| matches!(p, 20 | 40 | 60))
}

/// The telephone-event payload types of `m`.
fn te_pts_of(m: &Media) -> Vec<u8> {
    codecs::formats_of(m).iter().filter(|f| f.is_dtmf()).map(|f| f.pt).collect()
}

/// `a=ptime:p` in `m`, replacing the party's.
fn set_ptime(m: &mut Media, p: u32) {
    m.remove_attrs(|n, _| n == "ptime");
    m.lines.push(Line { kind: b'a', value: format!("ptime:{p}") });
}

/// The clock rate of each payload type of `m` (for RTCP statistics).
fn clocks_of(m: &Media) -> Vec<(u8, u32)> {
    codecs::formats_of(m).iter().map(|f| (f.pt, f.clock)).collect()
}

/// `PCMA`, `opus/48000`, `AMR-WB/16000/1`, or `all` against a format of `m`.
fn codec_matches(spec: &str, m: &Media, pt: &str) -> bool {
    if spec.eq_ignore_ascii_case("all") || spec.eq_ignore_ascii_case("full") || spec == pt {
        return true;
    }
    codecs::formats_of(m).iter().any(|f| f.pt.to_string() == pt.trim() && codecs::fmt_matches(spec, f))
}

fn remove_format(m: &mut Media, pt: &str) {
    m.formats.retain(|f| f != pt);
    m.remove_attrs(|name, value| {
        matches!(name, "rtpmap" | "fmtp" | "rtcp-fb") && value.split_whitespace().next() == Some(pt)
    });
}

/// codec strip / mask / offer / except on one m= section of an offer.
fn apply_codec_opts(m: &mut Media, o: &Options) -> Result<(), NgError> {
    if o.codec_strip.is_empty() && o.codec_mask.is_empty() && o.codec_consume.is_empty() && o.codec_offer.is_empty() {
        return Ok(());
    }
    let keep = |m: &Media, pt: &str| {
        o.codec_offer.iter().chain(&o.codec_except).any(|s| !s.eq_ignore_ascii_case("all") && codec_matches(s, m, pt))
    };
    let gone: Vec<String> = m
        .formats
        .iter()
        .filter(|pt| {
            !keep(m, pt) && o.codec_strip.iter().chain(&o.codec_mask).chain(&o.codec_consume).any(|s| codec_matches(s, m, pt))
        })
        .cloned()
        .collect();
    for pt in &gone {
        remove_format(m, pt);
    }
    // `offer` moves the listed codecs to the front, in the order given
    if !o.codec_offer.is_empty() {
        let mut front = vec![];
        for s in &o.codec_offer {
            for pt in m.formats.clone() {
                if !front.contains(&pt) && codec_matches(s, m, &pt) {
                    front.push(pt);
                }
            }
        }
        let rest: Vec<String> = m.formats.iter().filter(|f| !front.contains(f)).cloned().collect();
        front.extend(rest);
        m.formats = front;
    }
    // (codec-transcode may still add one: checked after it)
    if m.formats.is_empty() && o.codec_transcode.is_empty() {
        return Err(NgError::new(format!(
            "codec options leave no codec in m={} section",
            m.media
        )));
    }
    Ok(())
}

/// The SDP to send on, before per-media rewriting: the input without ICE (eagw does not
/// terminate ICE yet) and without BUNDLE groups (eagw never bundles, rtpengine's default).
fn outgoing(input: &Sdp) -> Sdp {
    let mut out = input.clone();
    out.session.retain(|l| {
        !l.attr().is_some_and(|(n, v)| ICE_ATTRS.contains(&n) || (n == "group" && v.starts_with("BUNDLE")))
    });
    for m in &mut out.media {
        m.remove_attrs(|n, _| ICE_ATTRS.contains(&n));
    }
    out
}

/// Our RTCP lines in an outgoing media section: `a=rtcp-mux` when muxing, and `a=rtcp`
/// with the RTCP port (the RTP port when muxing) unless `no-rtcp-attribute`.
fn set_rtcp_lines(m: &mut Media, mux: bool, rtcp_port: u16, ip: IpAddr, o: &Options) {
    m.remove_attrs(|n, _| matches!(n, "rtcp" | "rtcp-mux" | "rtcp-mux-only"));
    if mux {
        m.lines.push(Line { kind: b'a', value: "rtcp-mux".into() });
    }
    if !o.no_rtcp_attribute {
        let value = format!("rtcp:{rtcp_port} {}", sdp::format_connection(family_of(ip), &ip.to_string()));
        m.lines.push(Line { kind: b'a', value });
    }
}

/// The party's addresses for a media section: c= (media, else session), m= port, a=rtcp.
fn remote_of(sdp: &Sdp, m: &Media, o: &Options) -> (Option<SocketAddr>, Option<SocketAddr>, Family) {
    let conn = m.connection().or_else(|| sdp.session_connection());
    let family = conn.as_ref().map_or(Family::Ip4, |c| c.family);
    let mut ip: Option<IpAddr> = conn.as_ref().and_then(|c| c.address.split('/').next()?.parse().ok());
    if ip.is_some_and(|i| i.is_unspecified()) {
        ip = None; // hold: c=0.0.0.0
    } else if let Some(ma) = o.media_address {
        ip = Some(ma);
    } else if o.sip_source_address {
        if let Some(r) = o.received_from {
            ip = Some(r);
        }
    }
    let rtp = match ip {
        Some(ip) if m.port != 0 => Some(SocketAddr::new(ip, m.port)),
        _ => None,
    };
    let rtcp = match (m.attr("rtcp").and_then(sdp::parse_rtcp_attr), rtp) {
        (Some(a), Some(r)) => {
            let aip = a.connection.and_then(|c| c.address.parse::<IpAddr>().ok()).unwrap_or(r.ip());
            Some(SocketAddr::new(aip, a.port))
        }
        (None, Some(r)) if m.has_attr("rtcp-mux") && m.has_attr("rtcp-mux-only") => Some(r),
        (None, Some(r)) => Some(SocketAddr::new(r.ip(), r.port().wrapping_add(1))),
        _ => None,
    };
    (rtp, rtcp, family)
}

fn unix_now() -> (u64, u64) {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.as_micros() as u64)
}

/// `c=IN IP4 0.0.0.0` (RFC 2543 hold) stays as it is.
fn is_zero_connection(value: &str) -> bool {
    sdp::parse_connection(value)
        .and_then(|c| c.address.split('/').next()?.parse::<IpAddr>().ok())
        .is_some_and(|a| a.is_unspecified())
}

/// Rewrites c= lines (session and media level) and o= to our side's address. A zero
/// address stays (old-style hold), except ICE's placeholder: a party doing ICE with port 9
/// and c=0.0.0.0 in `input` (RFC 8840 §4.2.1; browsers send it) is not on hold, and eagw,
/// which terminates ICE, is where the other party must send.
fn rewrite_addresses(out: &mut Sdp, input: &Sdp, locals: &[Option<(IpAddr, Family)>], o: &Options) {
    let placeholder: Vec<bool> = input.media.iter().map(|m| m.port == 9 && webrtc::ice_creds(input, m).is_some()).collect();
    let hold = |c: &str, ice_placeholder: bool| is_zero_connection(c) && !ice_placeholder;
    let first = locals.iter().flatten().next().copied();
    let fmt = |ip: IpAddr| {
        let f = if ip.is_ipv4() { Family::Ip4 } else { Family::Ip6 };
        sdp::format_connection(f, &ip.to_string())
    };
    let mut session_c_zero = false;
    for l in &mut out.session {
        if l.kind == b'c' {
            let zero = hold(&l.value, placeholder.contains(&true));
            session_c_zero = zero;
            if let (Some((ip, _)), false) = (first, zero) {
                l.value = fmt(ip);
            }
        } else if l.kind == b'o' && (o.replace_origin || o.replace_origin_full) {
            if let (Some(mut org), Some((ip, fam))) = (sdp::parse_origin(&l.value), first) {
                org.family = fam;
                org.address = ip.to_string();
                if o.replace_origin_full {
                    org.username = "-".into();
                }
                l.value = org.format();
            }
        } else if l.kind == b's' && o.replace_session_name {
            l.value = "eagw".into();
        }
    }
    let session_has_c = out.session.iter().any(|l| l.kind == b'c');
    for (i, (m, local)) in out.media.iter_mut().zip(locals).enumerate() {
        let Some((ip, _)) = local else { continue };
        let mut has_c = false;
        for l in &mut m.lines {
            if l.kind == b'c' {
                has_c = true;
                if !hold(&l.value, placeholder.get(i) == Some(&true)) {
                    l.value = fmt(*ip);
                }
            }
        }
        // a media-level c= is needed when the session-level one is for another address
        if !has_c && (!session_has_c || (first.map(|f| f.0) != Some(*ip) && !session_c_zero)) {
            let at = m.lines.iter().position(|l| !matches!(l.kind, b'i')).unwrap_or(m.lines.len());
            m.lines.insert(at, Line { kind: b'c', value: fmt(*ip) });
        }
    }
}

impl Call {
    pub fn new(call_id: &str, learn: LearnOpts, now_ns: u64) -> Call {
        let (s, us) = unix_now();
        Call {
            call_id: call_id.to_string(),
            created_us: us,
            last_signal: s,
            legs: vec![],
            learn,
            timed_out: false,
            last_activity_ns: now_ns,
            generate_rtcp: false,
            notes: vec![],
            enc_sets: vec![],
        }
    }

    pub fn find_leg(&self, tag: &str) -> Option<usize> {
        self.legs.iter().position(|l| l.has_tag(tag))
    }

    fn add_leg(&mut self, tag: &str) -> usize {
        let (s, _) = unix_now();
        self.legs.push(Leg::new(tag, s));
        self.legs.len() - 1
    }

    fn update_learn(&mut self, o: &Options) {
        if let Some(m) = o.learning {
            self.learn.mode = m;
        }
        self.learn.handover |= o.media_handover;
        self.learn.asymmetric |= o.asymmetric;
        if let Some(g) = o.generate_rtcp {
            self.generate_rtcp = g;
        }
    }

    /// Closes every socket of the call.
    pub fn close(&mut self, socks: &mut dyn MediaSockets) {
        for leg in &mut self.legs {
            for m in &mut leg.medias {
                for p in [m.rtp.take(), m.rtcp.take()].into_iter().flatten() {
                    socks.close(p.handle);
                }
            }
        }
    }

    /// All handles of the call (for timeouts and stats).
    pub fn handles(&self) -> impl Iterator<Item = Handle> + '_ {
        self.legs.iter().flat_map(|l| l.medias.iter()).flat_map(|m| [m.rtp, m.rtcp]).flatten().map(|p| p.handle)
    }

    /// Processes an offer from the party with `from-tag`; returns the SDP for the other side.
    pub fn offer(
        &mut self,
        o: &Options,
        ifaces: &Interfaces,
        socks: &mut dyn MediaSockets,
        now_ns: u64,
    ) -> Result<String, NgError> {
        self.notes.clear();
        let text = o.sdp.as_deref().ok_or_else(|| NgError::new("No SDP body in offer"))?;
        let input = sdp::parse(text).map_err(|e| NgError::new(format!("Failed to parse SDP: {e}")))?;
        self.update_learn(o);
        let (from_if, to_if) = resolve_ifaces(o, ifaces)?;
        self.enc_sets = self.encoder_sets(o);

        let a = match self.find_leg(&o.from_tag) {
            Some(i) => i,
            None => self.add_leg(&o.from_tag),
        };
        let b = match o.to_tag.as_deref().filter(|t| !t.is_empty()).and_then(|t| self.find_leg(t)) {
            Some(i) => i,
            None => {
                let by_branch = o.via_branch.as_ref().and_then(|v| {
                    self.legs.iter().position(|l| l.via_branch.as_ref() == Some(v) && l.peer == Some(a))
                });
                match by_branch {
                    Some(i) => i,
                    None => match (self.legs[a].peer, &o.via_branch, &o.to_tag) {
                        // a retransmitted or repeated initial offer: the same pending branch
                        (Some(p), None, None) => p,
                        (Some(p), Some(_), None) if self.legs[p].via_branch.is_none() && self.legs[p].tag.is_empty() => p,
                        _ => self.add_leg(o.to_tag.as_deref().unwrap_or("")),
                    },
                }
            }
        };
        if a == b {
            return Err(NgError::new("from-tag and to-tag name the same party"));
        }
        if let Some(v) = &o.via_branch {
            if self.legs[b].via_branch.is_none() {
                self.legs[b].via_branch = Some(v.clone());
            }
        }
        if o.label.is_some() {
            self.legs[a].label = o.label.clone();
        }
        self.legs[a].peer = Some(b);
        self.legs[b].peer = Some(a);

        let mut out = outgoing(&input);
        webrtc::strip_dtls(&mut out);

        let mut locals = vec![];
        let mut lite = false;
        for (i, m_in) in input.media.iter().enumerate() {
            let (remote, remote_rtcp, in_family) = remote_of(&input, m_in, o);
            let out_family = o.address_family.unwrap_or(in_family);
            let in_proto = m_in.proto.clone();
            let out_proto = match &o.transport_protocol {
                Some(p) if !p.eq_ignore_ascii_case("accept") => normalize_proto(p)
                    .ok_or_else(|| NgError::new(format!("Unknown transport-protocol {p:?}")))?
                    .to_string(),
                _ => in_proto.clone(),
            };
            check_proto_change(&in_proto, &out_proto)?;
            let rejected = m_in.port == 0;
            let offered_mux = m_in.has_attr("rtcp-mux");
            let mux_out = !o.rtcp_mux.reject && (o.rtcp_mux.offer || o.rtcp_mux.require || (offered_mux && !o.rtcp_mux.demux));

            ensure_media(&mut self.legs[a], i, m_in, from_if, in_family, ifaces, socks, false, rejected)?;
            ensure_media(&mut self.legs[b], i, m_in, to_if, out_family, ifaces, socks, o.rtcp_mux.require, rejected)?;
            {
                let ma = &mut self.legs[a].medias[i];
                ma.remote = remote;
                ma.remote_rtcp = remote_rtcp;
                ma.proto = in_proto.clone();
                ma.offered_mux = offered_mux;
                ma.rejected = rejected;
                ma.mid = m_in.attr("mid").map(|v| v.trim().to_string());
                ma.clocks = clocks_of(m_in);
                ma.offered = codecs::formats_of(m_in);
                ma.ptime = ptime_of(m_in);
                ma.te_pts = te_pts_of(m_in);
                if o.ptime_reverse.is_some() {
                    ma.ptime_out = o.ptime_reverse;
                }
            }
            if o.ptime.is_some() {
                self.legs[b].medias[i].ptime_out = o.ptime;
            }
            self.legs[a].medias[i].inject_dtmf = o.inject_dtmf;
            let a_ice = webrtc::ice_creds(&input, m_in);
            offerer_ice(&mut self.legs[a].medias[i], a_ice.clone())?;
            {
                // full ICE towards a lite offerer (then eagw controls) or when asked
                let ma = &mut self.legs[a].medias[i];
                ma.ice_candidates = webrtc::candidates(m_in);
                ma.ice_remote_lite = webrtc::is_lite(&input, m_in);
                ma.ice_full = ma.ice_local.is_some() && (ma.ice_remote_lite || o.ice_full);
                ma.ice_controlling = ma.ice_remote_lite;
            }
            offerer_dtls(&mut self.legs[a].medias[i], &input, m_in, &in_proto, o)?;
            let mb = &mut self.legs[b].medias[i];
            mb.proto = out_proto.clone();
            mb.rejected = rejected;
            mb.rtcp_mux = o.rtcp_mux.require;
            let want_ice = match o.ice {
                IceMode::Force | IceMode::ForceRelay => true,
                IceMode::Remove => false,
                IceMode::Default | IceMode::Optional => a_ice.is_some(),
            };
            if want_ice {
                if mb.ice_local.is_none() {
                    mb.ice_local = Some(Creds::generate().map_err(NgError::new)?);
                }
                // eagw offers: full if asked (then it controls), else lite until a lite answer
                mb.ice_full = o.ice_full || mb.ice_remote_lite;
                mb.ice_controlling = true;
            } else {
                mb.ice_local = None;
                mb.ice_remote = None;
            }
            if proto_kind(&out_proto) == ProtoKind::Dtls {
                if o.dtls == DtlsMode::Off {
                    return Err(NgError::new(format!("DTLS=off with transport-protocol {out_proto}")));
                }
                if mb.dtls.is_none() {
                    let local_setup = match o.dtls {
                        DtlsMode::Passive => Setup::Passive,
                        DtlsMode::Active => Setup::Active,
                        _ => Setup::ActPass,
                    };
                    let local_tls_id = webrtc::new_tls_id().map_err(NgError::new)?;
                    mb.dtls = Some(DtlsSide { local_setup, remote_setup: None, remote: None, remote_tls_id: None, local_tls_id, epoch: 0 });
                }
            } else {
                mb.dtls = None;
            }

            let m_out = &mut out.media[i];
            if rejected {
                locals.push(None);
                continue;
            }
            let rtp = mb.rtp.ok_or_else(|| NgError::new("internal: no RTP socket"))?;
            m_out.port = rtp.bound.port();
            m_out.proto = out_proto.clone();
            if proto_kind(&out_proto) == ProtoKind::Plain && !out_proto.ends_with('F') {
                m_out.remove_attrs(|n, _| n == "rtcp-fb");
            }
            apply_codec_opts(m_out, o)?;
            if let Some(p) = o.ptime {
                set_ptime(m_out, p);
            }
            let notes = codecs::add_transcodes(m_out, &self.legs[a].medias[i].offered, o);
            self.notes.extend(notes);
            if m_out.formats.is_empty() {
                return Err(NgError::new(format!("codec options leave no codec in m={} section", m_out.media)));
            }
            // SDES: terminate SRTP where the protocol changes between the sides
            match (proto_kind(&in_proto), proto_kind(&out_proto)) {
                (ProtoKind::Sdes, ProtoKind::Plain | ProtoKind::Dtls) => {
                    let offered = crypto_lines(m_in);
                    if offered.is_empty() {
                        return Err(NgError::new(format!("m={} {in_proto} without a usable a=crypto", m_in.media)));
                    }
                    let ma = &mut self.legs[a].medias[i];
                    if ma.sdes_offered != offered {
                        ma.sdes_offered = offered;
                        ma.sdes_remote = None;
                    }
                    self.legs[b].medias[i].clear_sdes();
                    set_crypto_lines(m_out, &[]);
                }
                (ProtoKind::Plain | ProtoKind::Dtls, ProtoKind::Sdes) => {
                    self.legs[a].medias[i].clear_sdes();
                    let mb = &mut self.legs[b].medias[i];
                    if mb.sdes_local.is_empty() {
                        mb.sdes_local.clear();
                        for (n, suite) in sdes::OFFERED.iter().enumerate() {
                            let key = SrtpKey::generate(*suite).map_err(NgError::new)?;
                            mb.sdes_local.push(Crypto { tag: n as u32 + 1, key });
                        }
                    }
                    set_crypto_lines(m_out, &mb.sdes_local);
                }
                _ => {
                    self.legs[a].medias[i].clear_sdes();
                    self.legs[b].medias[i].clear_sdes();
                }
            }
            let mb = &self.legs[b].medias[i];
            let rtcp_port = if o.rtcp_mux.require { rtp.bound.port() } else { mb.rtcp.map_or(rtp.bound.port(), |p| p.bound.port()) };
            set_rtcp_lines(m_out, mux_out, rtcp_port, rtp.advertised, o);
            if let Some(d) = &mb.dtls {
                webrtc::write_dtls(m_out, &ifaces.fingerprint, d);
            }
            if let Some(c) = &mb.ice_local {
                webrtc::write_ice(m_out, c, &rtp, if o.rtcp_mux.require { None } else { mb.rtcp.as_ref() }, o.ice == IceMode::ForceRelay);
                lite |= !mb.ice_full;
            }
            locals.push(Some((rtp.advertised, family_of(rtp.advertised))));
        }
        if lite {
            webrtc::mark_lite(&mut out);
        }
        rewrite_addresses(&mut out, &input, &locals, o);
        self.rewire(a, b, socks);
        self.touch(now_ns);
        Ok(out.to_string_crlf())
    }

    /// Processes an answer from the party with `to-tag`; returns the SDP for the offerer.
    pub fn answer(
        &mut self,
        o: &Options,
        ifaces: &Interfaces,
        socks: &mut dyn MediaSockets,
        now_ns: u64,
    ) -> Result<String, NgError> {
        self.notes.clear();
        let text = o.sdp.as_deref().ok_or_else(|| NgError::new("No SDP body in answer"))?;
        let input = sdp::parse(text).map_err(|e| NgError::new(format!("Failed to parse SDP: {e}")))?;
        self.update_learn(o);
        let to_tag = o.to_tag.as_deref().unwrap_or("");
        let a = self.find_leg(&o.from_tag).ok_or_else(|| NgError::new("Unknown from-tag"))?;
        // the answering leg: by tag, else the branch offered on this via-branch, else the
        // pending (unanswered) branch, else the offerer's current peer (a downstream fork)
        let b = self
            .find_leg(to_tag)
            .filter(|&i| i != a)
            .or_else(|| {
                o.via_branch.as_ref().and_then(|v| {
                    self.legs.iter().position(|l| l.via_branch.as_ref() == Some(v) && l.peer == Some(a))
                })
            })
            .or_else(|| self.legs.iter().position(|l| l.tag.is_empty() && l.peer == Some(a)))
            .or(self.legs[a].peer)
            .ok_or_else(|| NgError::new("No offer for this answer"))?;
        if a == b {
            return Err(NgError::new("from-tag and to-tag name the same party"));
        }
        {
            let lb = &mut self.legs[b];
            if !to_tag.is_empty() && !lb.has_tag(to_tag) {
                if !lb.tag.is_empty() {
                    let old = std::mem::take(&mut lb.tag);
                    lb.aliases.push(old);
                }
                lb.tag = to_tag.to_string();
            }
            if o.label.is_some() {
                lb.label = o.label.clone();
            }
        }
        self.legs[a].peer = Some(b);
        self.legs[b].peer = Some(a);
        if input.media.len() != self.legs[b].medias.len() || input.media.len() != self.legs[a].medias.len() {
            return Err(NgError::new(format!(
                "answer has {} media sections, the offer had {}",
                input.media.len(),
                self.legs[a].medias.len()
            )));
        }

        let mut out = outgoing(&input);
        webrtc::strip_dtls(&mut out);
        let mut locals = vec![];
        let mut lite = false;
        for (i, m_in) in input.media.iter().enumerate() {
            let (remote, remote_rtcp, _) = remote_of(&input, m_in, o);
            let answered_mux = m_in.has_attr("rtcp-mux");
            {
                let mb = &mut self.legs[b].medias[i];
                mb.remote = remote;
                mb.remote_rtcp = if answered_mux { remote } else { remote_rtcp };
                mb.clocks = clocks_of(m_in);
                mb.ptime = ptime_of(m_in);
                mb.te_pts = te_pts_of(m_in);
                mb.rtcp_mux = answered_mux || mb.rtcp_mux;
                mb.rejected = m_in.port == 0;
                if proto_kind(&m_in.proto) != proto_kind(&mb.proto) && !o.transport_protocol.as_deref().is_some_and(|p| p.eq_ignore_ascii_case("accept")) {
                    check_proto_change(&m_in.proto, &mb.proto)?;
                }
            }
            answerer_webrtc(&mut self.legs[b].medias[i], &input, m_in)?;
            // SDES towards the answerer: its key, and which of ours it took (by tag)
            let mb = &mut self.legs[b].medias[i];
            if !mb.sdes_local.is_empty() && m_in.port != 0 {
                let theirs = crypto_lines(m_in);
                let agreed = theirs.into_iter().find(|t| mb.sdes_local.iter().any(|c| c.tag == t.tag && c.key.suite == t.key.suite));
                let Some(agreed) = agreed else {
                    return Err(NgError::new("answer has no a=crypto matching the offered ones"));
                };
                mb.sdes_local.retain(|c| c.tag == agreed.tag);
                mb.sdes_remote = Some(agreed);
            }
            // transcode when the answerer's codec is not the offerer's (or flags say so)
            let decision = if m_in.port != 0 && !self.legs[a].medias[i].rejected {
                let inject = o.inject_dtmf || self.legs[a].medias[i].inject_dtmf;
                codecs::decide(&self.legs[a].medias[i].offered, &codecs::formats_of(m_in), o, inject)?
            } else {
                None
            };
            self.legs[b].medias[i].xcode = decision.as_ref().map(|d| d.1.clone());
            let b_mux = self.legs[b].medias[i].rtcp_mux;
            let asked = self.legs[a].medias[i].ptime_out.or(self.legs[b].medias[i].ptime_out);
            if let (None, Some(p), false) = (&decision, asked, m_in.port == 0) {
                self.notes.push(format!(
                    "m={}: ptime {p} applies to transcoded streams; this one is passed through with the parties' own packetization",
                    m_in.media
                ));
            }
            let ma = &mut self.legs[a].medias[i];
            ma.xcode = decision.as_ref().map(|d| d.0.clone());
            let rejected = m_in.port == 0 || ma.rejected;
            let a_mux = ma.offered_mux && !o.rtcp_mux.reject && (b_mux || o.rtcp_mux.accept || o.rtcp_mux.demux || o.rtcp_mux.require);
            ma.rtcp_mux = a_mux;
            if a_mux {
                ma.remote_rtcp = ma.remote;
            }
            // `ICE=remove` with the answer: no ICE towards the offerer (an answer without
            // ICE attributes ends it, RFC 8839 §5.1)
            if o.ice == IceMode::Remove {
                ma.ice_local = None;
                ma.ice_remote = None;
                ma.ice_full = false;
            }
            // Kamailio sends `DTLS=passive|active` with the answer: it picks eagw's role
            // towards an offerer that left the choice (actpass), before any handshake
            if let Some(d) = ma.dtls.as_mut().filter(|d| d.remote_setup == Some(Setup::ActPass)) {
                let want = match o.dtls {
                    DtlsMode::Passive => Some(Setup::Passive),
                    DtlsMode::Active => Some(Setup::Active),
                    _ => None,
                };
                if let Some(w) = want.filter(|w| *w != d.local_setup) {
                    d.local_setup = w;
                    d.epoch += 1;
                }
            }
            let m_out = &mut out.media[i];
            m_out.proto = ma.proto.clone();
            if rejected {
                m_out.port = 0;
                locals.push(None);
                continue;
            }
            let rtp = ma.rtp.ok_or_else(|| NgError::new("internal: no RTP socket"))?;
            m_out.port = rtp.bound.port();
            if let Some((xa, xb)) = &decision {
                codecs::rewrite_answer(m_out, xa, xb, &ma.offered);
                // the answerer's ptime is its own preference, which eagw absorbs
                m_out.remove_attrs(|n, _| n == "ptime");
            }
            // (eagw always sends Opus in 20 ms packets)
            if let Some(p) = ma.ptime_out.filter(|_| decision.as_ref().is_some_and(|(xa, _)| xa.codec.kind != CodecKind::Opus)) {
                set_ptime(m_out, p);
            }
            // SDES towards the offerer: take the first suite it offered that we speak
            if !ma.sdes_offered.is_empty() {
                let chosen = ma.sdes_offered[0].clone();
                let ours = match ma.sdes_local.first() {
                    Some(c) if c.tag == chosen.tag && c.key.suite == chosen.key.suite => c.clone(),
                    _ => Crypto { tag: chosen.tag, key: SrtpKey::generate(chosen.key.suite).map_err(NgError::new)? },
                };
                ma.sdes_local = vec![ours];
                ma.sdes_remote = Some(chosen);
                set_crypto_lines(m_out, &ma.sdes_local);
            } else {
                set_crypto_lines(m_out, &[]);
            }
            let rtcp_port = if a_mux { rtp.bound.port() } else { ma.rtcp.map_or(rtp.bound.port(), |p| p.bound.port()) };
            set_rtcp_lines(m_out, a_mux, rtcp_port, rtp.advertised, o);
            if let Some(d) = &ma.dtls {
                webrtc::write_dtls(m_out, &ifaces.fingerprint, d);
            }
            if let Some(c) = &ma.ice_local {
                webrtc::write_ice(m_out, c, &rtp, if a_mux { None } else { ma.rtcp.as_ref() }, o.ice == IceMode::ForceRelay);
                lite |= !ma.ice_full;
            }
            webrtc::ensure_mid(m_out, ma.mid.as_deref());
            locals.push(Some((rtp.advertised, family_of(rtp.advertised))));
        }
        if lite {
            webrtc::mark_lite(&mut out);
        }
        rewrite_addresses(&mut out, &input, &locals, o);
        self.rewire(a, b, socks);
        self.touch(now_ns);
        Ok(out.to_string_crlf())
    }

    /// The offer's encoder settings (`codec-set`, and `codec-transcode` specs that carry
    /// some); a spec eagw cannot follow is a warning in the reply, and ignored.
    fn encoder_sets(&mut self, o: &Options) -> Vec<(CodecKind, EncoderSettings)> {
        let mut sets = vec![];
        for spec in o.codec_set.iter().chain(&o.codec_transcode) {
            match codecs::parse_set(spec) {
                Ok(Some(s)) => sets.push(s),
                Ok(None) => {}
                Err(e) => self.notes.push(format!("codec-set {spec}: {e}; ignored")),
            }
        }
        sets
    }

    fn touch(&mut self, now_ns: u64) {
        self.last_signal = unix_now().0;
        self.last_activity_ns = now_ns;
        self.timed_out = false;
    }

    /// Wires the sockets of legs `a` and `b` to relay to each other.
    fn rewire(&self, a: usize, b: usize, socks: &mut dyn MediaSockets) {
        let (la, lb) = (&self.legs[a], &self.legs[b]);
        for (ma, mb) in la.medias.iter().zip(&lb.medias) {
            self.wire_side(ma, mb, socks);
            self.wire_side(mb, ma, socks);
        }
    }

    /// Wires the sockets facing `from`'s party to forward to `to`'s party.
    fn wire_side(&self, from: &MediaState, to: &MediaState, socks: &mut dyn MediaSockets) {
        let (Some(rtp), Some(to_rtp)) = (from.rtp, to.rtp) else { return };
        let to_rtcp = if to.rtcp_mux { Some(to_rtp.handle) } else { to.rtcp.map(|p| p.handle).or(Some(to_rtp.handle)) };
        // with ICE the party's address is what it nominates, never the SDP's or a learned one
        let ice = from.ice_local.is_some();
        let spec = from.ice_local.clone().map(|local| super::IceSpec {
            local,
            full: match (&from.ice_remote, from.ice_full) {
                (Some(remote), true) => Some(crate::transport::ice_full::FullIce {
                    remote: remote.clone(),
                    candidates: from.ice_candidates.clone(),
                    controlling: from.ice_controlling,
                }),
                _ => None,
            },
        });
        let learn = if ice { LearnOpts { mode: Learning::Off, handover: false, asymmetric: false } } else { self.learn };
        // generate-RTCP: the state towards `from`'s party lives on its RTP socket; reports
        // leave where that party's RTCP goes (the RTP socket with rtcp-mux)
        let own_rtcp = if from.rtcp_mux { rtp.handle } else { from.rtcp.map_or(rtp.handle, |p| p.handle) };
        // a transcoded stream is eagw's own: its RTCP too (the parties' reports describe
        // streams the other party never sees)
        let own_rtcp_gen = self.generate_rtcp || from.xcode.is_some();
        let gen = own_rtcp_gen.then(|| {
            let mut clocks = to.clocks.clone();
            clocks.extend_from_slice(&from.clocks);
            RtcpGen::Report { out: own_rtcp, clocks }
        });
        let transcode = match (&from.xcode, &to.xcode) {
            (Some(f), Some(t)) => Some(TranscodeSpec {
                rx: f.codec.clone(),
                tx: t.codec.clone(),
                tx_ptime: to.ptime_out.or(to.ptime).unwrap_or(20),
                tx_set: codecs::settings_for(&self.enc_sets, t.codec.kind),
                rx_dtmf: f.dtmf,
                tx_dtmf: t.dtmf,
                rx_cn: f.cn,
                tx_cn: t.cn,
                ..TranscodeSpec::defaults(f.codec.clone(), t.codec.clone())
            }),
            _ => None,
        };
        socks.wire(
            rtp.handle,
            Wiring {
                peer: if ice { None } else { from.remote },
                learn,
                fwd_rtp: Some(to_rtp.handle),
                fwd_rtcp: to_rtcp,
                rtcp_only: false,
                crypt: from.crypt(),
                ice: spec.clone(),
                rtcp_gen: gen,
                transcode,
            },
        );
        if let Some(rtcp) = from.rtcp {
            // DTLS-SRTP keys only the RTP component (browsers always mux): a separate RTCP
            // socket towards a DTLS party passes nothing
            let crypt = if from.dtls.is_some() { Crypt::Srtp { rx: None, tx: None } } else { from.crypt() };
            socks.wire(
                rtcp.handle,
                Wiring {
                    peer: if from.rtcp_mux || ice { None } else { from.remote_rtcp },
                    learn,
                    fwd_rtp: None,
                    fwd_rtcp: to_rtcp,
                    rtcp_only: true,
                    crypt,
                    // full ICE runs on the RTP component only (browsers mux)
                    ice: spec.map(|s| super::IceSpec { full: None, ..s }),
                    rtcp_gen: own_rtcp_gen.then_some(RtcpGen::Consume { owner: rtp.handle }),
                    transcode: None,
                },
            );
        }
    }
}

fn family_of(ip: IpAddr) -> Family {
    if ip.is_ipv4() {
        Family::Ip4
    } else {
        Family::Ip6
    }
}

fn check_proto_change(from: &str, to: &str) -> Result<(), NgError> {
    let (f, t) = (proto_kind(from), proto_kind(to));
    if f == ProtoKind::Dtls && t == ProtoKind::Dtls {
        return Err(NgError::new(format!(
            "{from} on both sides: relaying DTLS-SRTP end to end is not supported (terminate it: transport-protocol RTP/AVP or RTP/SAVP on one side)"
        )));
    }
    if f != t && (f == ProtoKind::Other || t == ProtoKind::Other) {
        return Err(NgError::new(format!("transport-protocol {from} -> {to} is not supported")));
    }
    Ok(())
}

fn resolve_ifaces(o: &Options, ifaces: &Interfaces) -> Result<(usize, usize), NgError> {
    let find = |n: &Option<String>| -> Result<usize, NgError> {
        match n {
            None => Ok(0),
            Some(n) => ifaces.find(n).ok_or_else(|| NgError::new(format!("Unknown interface {n:?} in direction"))),
        }
    };
    Ok((find(&o.from_interface)?, find(&o.to_interface)?))
}

#[allow(clippy::too_many_arguments)]
fn ensure_media(
    leg: &mut Leg,
    i: usize,
    m_in: &Media,
    iface: usize,
    mut family: Family,
    ifaces: &Interfaces,
    socks: &mut dyn MediaSockets,
    mux_only: bool,
    rejected: bool,
) -> Result<(), NgError> {
    if !ifaces.has(iface, family) {
        let other = if family == Family::Ip4 { Family::Ip6 } else { Family::Ip4 };
        if ifaces.has(iface, other) {
            family = other;
        } else {
            return Err(NgError::new(format!("interface {:?} has no address", ifaces.names[iface])));
        }
    }
    if leg.medias.len() > i {
        let m = &mut leg.medias[i];
        let same = m.iface == iface && m.family == family && m.kind == m_in.media;
        if same || rejected {
            return Ok(());
        }
        // the interface, family or media type changed: new sockets
        for p in [m.rtp.take(), m.rtcp.take()].into_iter().flatten() {
            socks.close(p.handle);
        }
    }
    let (rtp, rtcp) = if rejected {
        (None, None)
    } else {
        let (r, c) = socks.open(iface, family, !mux_only).map_err(|e| NgError::new(format!("Ran out of ports: {e}")))?;
        (Some(r), c)
    };
    let st = MediaState {
        index: i + 1,
        kind: m_in.media.clone(),
        proto: m_in.proto.clone(),
        iface,
        family,
        rtp,
        rtcp,
        remote: None,
        remote_rtcp: None,
        rtcp_mux: false,
        offered_mux: false,
        rejected,
        sdes_local: vec![],
        sdes_offered: vec![],
        sdes_remote: None,
        mid: None,
        ice_local: None,
        ice_remote: None,
        ice_candidates: vec![],
        ice_remote_lite: false,
        ice_full: false,
        ice_controlling: false,
        dtls: None,
        clocks: vec![],
        offered: vec![],
        xcode: None,
        ptime: None,
        ptime_out: None,
        te_pts: vec![],
        inject_dtmf: false,
    };
    if leg.medias.len() > i {
        leg.medias[i] = st;
    } else {
        leg.medias.push(st);
    }
    Ok(())
}

/// The offering party's ICE: new local credentials when it starts ICE or restarts it
/// (RFC 8445 §9: the answerer changes its credentials too); none when it has no ICE.
fn offerer_ice(ma: &mut MediaState, theirs: Option<Creds>) -> Result<(), NgError> {
    match theirs {
        Some(c) => {
            if ma.ice_local.is_none() || ma.ice_remote.as_ref() != Some(&c) {
                ma.ice_local = Some(Creds::generate().map_err(NgError::new)?);
            }
            ma.ice_remote = Some(c);
        }
        None => {
            ma.ice_local = None;
            ma.ice_remote = None;
        }
    }
    Ok(())
}

/// The offering party's DTLS-SRTP: its fingerprint, and the role eagw will answer with
/// (the opposite of the party's `a=setup`; `actpass` → active unless `DTLS=passive`).
fn offerer_dtls(ma: &mut MediaState, input: &Sdp, m_in: &Media, in_proto: &str, o: &Options) -> Result<(), NgError> {
    if proto_kind(in_proto) != ProtoKind::Dtls || m_in.port == 0 {
        ma.dtls = None;
        return Ok(());
    }
    let fp = webrtc::fingerprint(input, m_in)
        .ok_or_else(|| NgError::new(format!("m={} {in_proto} without a usable a=fingerprint (sha-256)", m_in.media)))?;
    let remote_setup = webrtc::setup(input, m_in).unwrap_or(Setup::ActPass);
    let local_setup = match remote_setup {
        Setup::Active => Setup::Passive,
        Setup::Passive => Setup::Active,
        Setup::ActPass => match (o.dtls, &ma.dtls) {
            (DtlsMode::Passive, _) => Setup::Passive,
            (DtlsMode::Active, _) => Setup::Active,
            (_, Some(d)) if d.local_setup != Setup::ActPass => d.local_setup, // a re-offer keeps the role
            _ => Setup::Active,
        },
    };
    let tls = webrtc::tls_id(input, m_in);
    match &mut ma.dtls {
        Some(d) => {
            if d.local_setup != local_setup {
                d.local_setup = local_setup;
                d.epoch += 1;
            }
            d.remote_setup = Some(remote_setup);
            d.set_remote(fp, tls).map_err(NgError::new)?;
        }
        None => {
            let local_tls_id = webrtc::new_tls_id().map_err(NgError::new)?;
            ma.dtls = Some(DtlsSide { local_setup, remote_setup: Some(remote_setup), remote: Some(fp), remote_tls_id: tls, local_tls_id, epoch: 0 });
        }
    }
    Ok(())
}

/// The answering party's ICE credentials and DTLS fingerprint and role, where eagw
/// offered it ICE / DTLS-SRTP.
fn answerer_webrtc(mb: &mut MediaState, input: &Sdp, m_in: &Media) -> Result<(), NgError> {
    if m_in.port == 0 {
        return Ok(());
    }
    if mb.ice_local.is_some() {
        match webrtc::ice_creds(input, m_in) {
            Some(c) => {
                mb.ice_remote = Some(c);
                mb.ice_candidates = webrtc::candidates(m_in);
                mb.ice_remote_lite = webrtc::is_lite(input, m_in);
                // two lite agents never connect: eagw turns full (and, as offerer, controls)
                mb.ice_full |= mb.ice_remote_lite;
            }
            None => {
                // the party does not do ICE: plain latching towards it
                mb.ice_local = None;
                mb.ice_remote = None;
            }
        }
    }
    if let Some(d) = &mut mb.dtls {
        if proto_kind(&m_in.proto) != ProtoKind::Dtls {
            return Err(NgError::new(format!("answer refused DTLS-SRTP (m={} {})", m_in.media, m_in.proto)));
        }
        let fp = webrtc::fingerprint(input, m_in)
            .ok_or_else(|| NgError::new(format!("answer m={} without a usable a=fingerprint (sha-256)", m_in.media)))?;
        let role = match webrtc::setup(input, m_in) {
            Some(Setup::Passive) => Setup::Active,
            _ => Setup::Passive, // active (or, wrongly, actpass / none: RFC 4145's default)
        };
        if d.local_setup != role && d.local_setup != Setup::ActPass && d.remote.is_some() {
            d.epoch += 1;
        }
        d.local_setup = role;
        d.set_remote(fp, webrtc::tls_id(input, m_in)).map_err(NgError::new)?;
    }
    Ok(())
}

/// For the tests: the default learning options.
pub fn default_learn() -> LearnOpts {
    LearnOpts { mode: Learning::Delayed, handover: false, asymmetric: false }
}
