//! The WebRTC side of a media section in SDP: ICE credentials and candidates (eagw is an
//! ICE-lite agent: host candidates only), DTLS-SRTP `a=fingerprint` / `a=setup` /
//! `a=tls-id`, and `a=mid`. What the session stores per party, and the lines it writes.

use super::LocalPort;
use crate::sdp::{Line, Media, Sdp};
use crate::transport::dtls::{parse_fingerprint, Fingerprint};
use crate::transport::ice::{host_candidate, relay_candidate, Creds};

/// `a=setup` (RFC 4145 / 5763).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    Active,
    Passive,
    ActPass,
}

impl Setup {
    pub fn parse(v: &str) -> Option<Setup> {
        match v.trim().to_ascii_lowercase().as_str() {
            "active" => Some(Setup::Active),
            "passive" => Some(Setup::Passive),
            "actpass" => Some(Setup::ActPass),
            _ => None, // holdconn: no association
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
        }
    }
}

/// eagw terminates DTLS-SRTP towards this party.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DtlsSide {
    /// The `a=setup` eagw wrote (after the party's answer: the role it took, never actpass).
    pub local_setup: Setup,
    /// The party's `a=setup` when it offered (an `actpass` lets a later `DTLS` flag pick).
    pub remote_setup: Option<Setup>,
    pub remote: Option<Fingerprint>,
    pub remote_tls_id: Option<String>,
    /// Ours (RFC 8842); a new one with each new association.
    pub local_tls_id: String,
    /// Bumped for each new association (a new fingerprint or tls-id from the party).
    pub epoch: u32,
}

impl DtlsSide {
    /// Whether eagw is the DTLS client (sends the ClientHello). With `actpass` still
    /// unanswered eagw waits as the server.
    pub fn client(&self) -> bool {
        self.local_setup == Setup::Active
    }

    /// The party's fingerprint and tls-id from its SDP: a change starts a new association.
    pub fn set_remote(&mut self, fp: Fingerprint, tls_id: Option<String>) -> Result<(), String> {
        let changed = self.remote.as_ref() != Some(&fp) || (tls_id.is_some() && tls_id != self.remote_tls_id);
        if changed && self.remote.is_some() {
            self.epoch += 1;
            self.local_tls_id = new_tls_id()?;
        }
        self.remote = Some(fp);
        self.remote_tls_id = tls_id;
        Ok(())
    }
}

pub fn new_tls_id() -> Result<String, String> {
    Ok(Creds::generate()?.pwd)
}

/// An attribute from the media section, else from the session level.
pub fn attr<'a>(sdp: &'a Sdp, m: &'a Media, name: &str) -> Option<&'a str> {
    m.attr(name).or_else(|| sdp.session_attr(name))
}

/// The party's ICE credentials, if its SDP does ICE.
pub fn ice_creds(sdp: &Sdp, m: &Media) -> Option<Creds> {
    let ufrag = attr(sdp, m, "ice-ufrag")?.trim();
    let pwd = attr(sdp, m, "ice-pwd")?.trim();
    (!ufrag.is_empty() && !pwd.is_empty()).then(|| Creds { ufrag: ufrag.into(), pwd: pwd.into() })
}

/// The party's UDP candidates of component 1 (`a=candidate` values).
pub fn candidates(m: &Media) -> Vec<String> {
    m.attrs("candidate")
        .filter(|v| {
            let f: Vec<&str> = v.split_whitespace().collect();
            f.len() >= 8 && f[1] == "1" && f[2].eq_ignore_ascii_case("udp")
        })
        .take(16)
        .map(|v| v.trim().to_string())
        .collect()
}

/// `a=ice-lite` (session level, or media level from some stacks).
pub fn is_lite(sdp: &Sdp, m: &Media) -> bool {
    attr(sdp, m, "ice-lite").is_some()
}

pub fn fingerprint(sdp: &Sdp, m: &Media) -> Option<Fingerprint> {
    // several a=fingerprint lines are allowed: take the first SHA-256 one
    m.attrs("fingerprint")
        .chain(sdp.session.iter().filter_map(|l| l.attr()).filter(|(n, _)| *n == "fingerprint").map(|(_, v)| v))
        .find_map(parse_fingerprint)
}

pub fn setup(sdp: &Sdp, m: &Media) -> Option<Setup> {
    attr(sdp, m, "setup").and_then(Setup::parse)
}

pub fn tls_id(sdp: &Sdp, m: &Media) -> Option<String> {
    attr(sdp, m, "tls-id").map(|s| s.trim().to_string())
}

const DTLS_ATTRS: &[&str] = &["fingerprint", "setup", "tls-id"];

/// Removes the party's DTLS lines (session and media level) from an outgoing SDP.
pub fn strip_dtls(out: &mut Sdp) {
    out.session.retain(|l| !l.attr().is_some_and(|(n, _)| DTLS_ATTRS.contains(&n)));
    for m in &mut out.media {
        m.remove_attrs(|n, _| DTLS_ATTRS.contains(&n));
    }
}

/// Our DTLS lines in an outgoing media section.
pub fn write_dtls(m: &mut Media, fingerprint: &str, d: &DtlsSide) {
    m.remove_attrs(|n, _| DTLS_ATTRS.contains(&n) || n == "crypto");
    m.lines.push(Line { kind: b'a', value: format!("fingerprint:{fingerprint}") });
    m.lines.push(Line { kind: b'a', value: format!("setup:{}", d.local_setup.as_str()) });
    m.lines.push(Line { kind: b'a', value: format!("tls-id:{}", d.local_tls_id) });
}

/// Our ICE lines in an outgoing media section: credentials and one candidate per
/// component (RTCP's own only when not muxed): `typ host`, or `typ relay` with `relay`
/// (ng `ICE=force-relay`).
pub fn write_ice(m: &mut Media, c: &Creds, rtp: &LocalPort, rtcp: Option<&LocalPort>, relay: bool) {
    m.lines.push(Line { kind: b'a', value: format!("ice-ufrag:{}", c.ufrag) });
    m.lines.push(Line { kind: b'a', value: format!("ice-pwd:{}", c.pwd) });
    let adv = |p: &LocalPort| std::net::SocketAddr::new(p.advertised, p.bound.port());
    let cand = if relay { relay_candidate } else { host_candidate };
    m.lines.push(Line { kind: b'a', value: cand(1, adv(rtp)) });
    if let Some(r) = rtcp {
        m.lines.push(Line { kind: b'a', value: cand(2, adv(r)) });
    }
    m.lines.push(Line { kind: b'a', value: "end-of-candidates".into() });
}

/// `a=ice-lite` at session level (RFC 8839 §5.3), once.
pub fn mark_lite(out: &mut Sdp) {
    if out.session_attr("ice-lite").is_none() {
        out.session.push(Line { kind: b'a', value: "ice-lite".into() });
    }
}

/// Echoes the offerer's `a=mid` into an answer section that lacks one (an IMS answer
/// has none; a browser needs it to match its transceiver).
pub fn ensure_mid(m: &mut Media, mid: Option<&str>) {
    if let Some(mid) = mid {
        if !m.has_attr("mid") {
            m.lines.push(Line { kind: b'a', value: format!("mid:{mid}") });
        }
    }
}
