//! Configuration: the TOML schema, the embedded default and validation with line numbers.
//!
//! `eagw run` with no `--config` runs on [`DEFAULT_TOML`], which binds loopback only.
//! `eagw check-config FILE` runs [`Config::from_toml`] and prints its error, which always
//! names the line (TOML syntax and type errors come from the `toml` crate with a span; the
//! semantic checks below carry spans of their own through `toml::Spanned`).

use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use toml::Spanned;

/// The configuration the binary runs on when no file is given: loopback only.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub general: General,
    #[serde(default)]
    pub control: Control,
    #[serde(default)]
    pub media: Media,
    #[serde(rename = "interface", default)]
    pub interfaces: Vec<Spanned<Interface>>,
    /// The embedded TURN server (off unless listeners are configured).
    #[serde(default)]
    pub turn: Turn,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Turn {
    /// UDP listeners (`"address:port"`); empty = no TURN server.
    pub listen_udp: Vec<Spanned<String>>,
    /// TCP listeners (RFC 8656 stream framing; the relay is UDP).
    pub listen_tcp: Vec<Spanned<String>>,
    /// TLS listeners (RFC 8656 §3.1; TURN over TLS over TCP, usually port 5349).
    pub listen_tls: Vec<Spanned<String>>,
    /// PEM files of the TLS certificate chain and its private key; both empty = a
    /// self-signed certificate generated at each start.
    pub tls_cert: String,
    pub tls_key: String,
    pub realm: String,
    /// Where relay sockets bind (IPv4 / IPv6); default: the first listener's address.
    pub relay_address: Option<IpAddr>,
    pub relay_address6: Option<IpAddr>,
    /// Relay port range, inclusive, shared out among the workers.
    pub port_min: Spanned<u16>,
    pub port_max: u16,
    /// Long-term credentials: user name → password.
    pub users: std::collections::BTreeMap<String, String>,
    /// TURN REST API shared secret (empty = REST credentials off).
    pub rest_secret: String,
    /// Peers allowed although denied by default (loopback, private, link-local,
    /// multicast, eagw's own addresses): `"CIDR"` or `"CIDR LO-HI"` (a port range).
    pub allow_peers: Vec<Spanned<String>>,
    /// Allocations per user name, and in total (0 = no limit).
    pub user_quota: usize,
    pub total_quota: usize,
    /// Bandwidth cap per allocation and direction in kbit/s (0 = none).
    pub bandwidth_kbps: u64,
    pub default_lifetime_secs: u64,
    pub max_lifetime_secs: u64,
    /// How long a nonce stays valid (then 438 Stale Nonce).
    pub nonce_secs: u64,
}

impl Default for Turn {
    fn default() -> Self {
        Turn {
            listen_udp: vec![],
            listen_tcp: vec![],
            listen_tls: vec![],
            tls_cert: String::new(),
            tls_key: String::new(),
            realm: "eagw".into(),
            relay_address: None,
            relay_address6: None,
            port_min: Spanned::new(0..0, 49152),
            port_max: 65535,
            users: Default::default(),
            rest_secret: String::new(),
            allow_peers: vec![],
            user_quota: 100,
            total_quota: 10000,
            bandwidth_kbps: 0,
            default_lifetime_secs: 600,
            max_lifetime_secs: 3600,
            nonce_secs: 600,
        }
    }
}

impl Turn {
    pub fn enabled(&self) -> bool {
        !self.listen_udp.is_empty() || !self.listen_tcp.is_empty() || !self.listen_tls.is_empty()
    }

    pub fn listeners(&self) -> Vec<SocketAddr> {
        let mut v = Config::addrs(&self.listen_udp);
        v.extend(Config::addrs(&self.listen_tcp));
        v.extend(Config::addrs(&self.listen_tls));
        v
    }

    /// The IPv4 relay address: configured, or the first IPv4 listener's (if specific).
    pub fn relay_v4(&self) -> Option<IpAddr> {
        self.relay_address.or_else(|| {
            self.listeners().iter().map(|a| a.ip()).find(|ip| ip.is_ipv4() && !ip.is_unspecified())
        })
    }

    pub fn relay_v6(&self) -> Option<IpAddr> {
        self.relay_address6.or_else(|| {
            self.listeners().iter().map(|a| a.ip()).find(|ip| ip.is_ipv6() && !ip.is_unspecified())
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Parallel session limit (0 = none). Beyond it, `offer` for a new call answers
    /// `result: load limit` to clients that sent `supports: ["load limit"]`, an error otherwise.
    pub max_sessions: usize,
    /// Default log filter (`RUST_LOG` overrides it).
    pub log: String,
    /// How the kernel schedules the media workers: `other`, its default time sharing, or
    /// real time, `fifo` or `rr`, at `worker_priority`. Real time keeps other processes from
    /// pre-empting a worker in the middle of a playout tick (the stalls that make frames late
    /// on a busy host); the kernel's RT throttling (`kernel.sched_rt_runtime_us`, 95 % by
    /// default) still leaves part of each core to everything else. Needs CAP_SYS_NICE or an
    /// RLIMIT_RTPRIO (systemd: `LimitRTPRIO=`); without it the workers log a warning and run
    /// time-shared.
    pub worker_scheduling: Scheduling,
    /// Real-time priority of the workers, 1–99 (`fifo` and `rr` only).
    pub worker_priority: u8,
}

impl Default for General {
    fn default() -> Self {
        General { workers: 0, max_sessions: 0, log: "info".into(), worker_scheduling: Scheduling::Other, worker_priority: 10 }
    }
}

/// A worker thread's scheduling policy (sched(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduling {
    /// SCHED_OTHER: the kernel's default.
    Other,
    /// SCHED_FIFO: real time, runs until it blocks or a higher priority wakes.
    Fifo,
    /// SCHED_RR: real time, round robin among threads of equal priority.
    Rr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Control {
    /// ng over UDP listeners.
    pub ng_udp: Vec<Spanned<String>>,
    /// TCP-ng listeners.
    pub ng_tcp: Vec<Spanned<String>>,
    /// HTTP listeners (`POST /ng`, `POST /ng-plain`, `GET /ping`).
    pub http: Vec<Spanned<String>>,
    /// Seconds a reply is kept for retransmitted requests (kept this long to twice this
    /// long). Kamailio retransmits for rtpengine_tout_ms × rtpengine_retr (5 s by default).
    pub cookie_cache_secs: u64,
}

impl Default for Control {
    fn default() -> Self {
        Control { ng_udp: vec![], ng_tcp: vec![], http: vec![], cookie_cache_secs: 10 }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OpusApplication {
    /// libopus's restricted low delay: CELT only.
    LowDelay,
    /// libopus's VoIP application: SILK or hybrid for speech.
    Voip,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TimeoutAction {
    /// Mark the call as timed out (visible in `query`) and keep it.
    Mark,
    /// Delete the call and free its ports.
    Delete,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Learning {
    Off,
    Immediate,
    Delayed,
    Heuristic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Media {
    /// Media port range, inclusive, shared out among the workers.
    pub port_min: Spanned<u16>,
    pub port_max: Spanned<u16>,
    /// Seconds without a packet on any stream before the call times out (0 = never).
    pub timeout_secs: u64,
    pub timeout_action: TimeoutAction,
    /// Endpoint learning when the offer does not say (`endpoint-learning`).
    pub endpoint_learning: Learning,
    /// Length of the learning window of `delayed` and `heuristic`.
    pub learning_window_ms: u64,
    /// DSCP/TOS byte on media sockets (0 = leave alone).
    pub tos: u8,
    /// Socket buffer sizes for media sockets (bytes, 0 = kernel default).
    pub socket_rcvbuf: usize,
    /// DTLS-SRTP certificate: a PEM file with the certificate and its PKCS#8 private key
    /// (ECDSA P-256). Empty: a fresh self-signed one at every start (browsers check the
    /// fingerprint in SDP, never a CA chain, so this is the usual choice).
    pub dtls_certificate: String,
    /// `generate-RTCP`: interval between eagw's reports to a party (plus 0–1 s of random
    /// dispersion), rtpengine's `--rtcp-interval`.
    pub rtcp_interval_ms: u64,
    /// Transcoding: the Opus encoder's application (`lowdelay`: CELT only, the cheapest;
    /// `voip`: SILK / hybrid), complexity (0–10; measured best: 0 for CELT, 5 for SILK),
    /// Opus bitrate (bit/s; capped by the party's `maxaveragebitrate`), and the AMR-WB
    /// bitrate eagw sends (the highest mode of the party's `mode-set` not above it; its CMR
    /// can lower it). README: Opus encoder settings.
    pub opus_application: OpusApplication,
    pub opus_complexity: u8,
    pub opus_bitrate: u32,
    pub amrwb_bitrate: u32,
    /// Transcoding: AMR-WB DTX towards the party (RFC 4867 / TS 26.193: in pauses a SID
    /// frame every 160 ms and nothing between, as VoLTE terminals send). Off by default,
    /// as rtpengine: every 20 ms carries a frame.
    pub amrwb_dtx: bool,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            port_min: Spanned::new(0..0, 30000),
            port_max: Spanned::new(0..0, 39999),
            timeout_secs: 60,
            timeout_action: TimeoutAction::Delete,
            endpoint_learning: Learning::Delayed,
            learning_window_ms: 3000,
            tos: 0,
            socket_rcvbuf: 0,
            dtls_certificate: String::new(),
            rtcp_interval_ms: 5000,
            opus_application: OpusApplication::LowDelay,
            opus_complexity: 0,
            opus_bitrate: 64_000,
            amrwb_bitrate: 12_650,
            amrwb_dtx: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Name used by `direction`, `interface`, `from-interface`, `to-interface`.
    pub name: String,
    /// IPv4 address to bind media sockets on.
    pub address: Option<IpAddr>,
    /// IPv6 address to bind media sockets on.
    pub address6: Option<IpAddr>,
    /// Addresses written into SDP instead of the bound ones (1:1 NAT in front of eagw).
    pub advertise: Option<IpAddr>,
    pub advertise6: Option<IpAddr>,
}

#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

fn line_of(src: &str, span: std::ops::Range<usize>) -> usize {
    src.as_bytes()[..span.start.min(src.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

impl Config {
    pub fn default_config() -> Config {
        Config::from_toml(DEFAULT_TOML, "<embedded default>").expect("embedded default config is valid")
    }

    /// Parses and validates; errors name `origin` and the line.
    pub fn from_toml(src: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(src).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        cfg.validate(src, origin)?;
        Ok(cfg)
    }

    pub fn load(path: &str) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError(format!("{path}: {e}")))?;
        Config::from_toml(&src, path)
    }

    fn validate(&self, src: &str, origin: &str) -> Result<(), ConfigError> {
        let err = |span: std::ops::Range<usize>, msg: String| {
            ConfigError(format!("{origin}: line {}: {msg}", line_of(src, span)))
        };
        let (min, max) = (*self.media.port_min.get_ref(), *self.media.port_max.get_ref());
        if min < 1024 || min > max {
            return Err(err(
                self.media.port_min.span(),
                format!("port_min {min} must be >= 1024 and <= port_max {max}"),
            ));
        }
        let workers = self.worker_count();
        let pairs = (max as usize - min as usize).div_ceil(2);
        if pairs < workers * 4 {
            return Err(err(
                self.media.port_max.span(),
                format!("port range {min}-{max} is too small for {workers} workers (need 8 ports per worker at least)"),
            ));
        }
        if self.interfaces.is_empty() {
            return Err(ConfigError(format!("{origin}: at least one [[interface]] is required")));
        }
        let mut names = std::collections::HashSet::new();
        for i in &self.interfaces {
            let v = i.get_ref();
            if v.name.is_empty() || !names.insert(v.name.clone()) {
                return Err(err(i.span(), format!("interface name {:?} is empty or used twice", v.name)));
            }
            if v.address.is_none() && v.address6.is_none() {
                return Err(err(i.span(), format!("interface {:?} needs address or address6", v.name)));
            }
            if matches!(v.address, Some(IpAddr::V6(_))) || matches!(v.address6, Some(IpAddr::V4(_))) {
                return Err(err(i.span(), format!("interface {:?}: address is IPv4, address6 is IPv6", v.name)));
            }
        }
        for list in [&self.control.ng_udp, &self.control.ng_tcp, &self.control.http] {
            for a in list {
                if a.get_ref().parse::<SocketAddr>().is_err() {
                    return Err(err(a.span(), format!("{:?} is not an address:port", a.get_ref())));
                }
            }
        }
        if !(100..=60_000).contains(&self.media.rtcp_interval_ms) {
            return Err(ConfigError(format!("{origin}: rtcp_interval_ms must be 100..60000")));
        }
        if self.media.opus_complexity > 10 {
            return Err(ConfigError(format!("{origin}: opus_complexity must be 0..10")));
        }
        if !(6_000..=510_000).contains(&self.media.opus_bitrate) {
            return Err(ConfigError(format!("{origin}: opus_bitrate must be 6000..510000")));
        }
        if !(6_600..=23_850).contains(&self.media.amrwb_bitrate) {
            return Err(ConfigError(format!("{origin}: amrwb_bitrate must be 6600..23850")));
        }
        let t = &self.turn;
        for a in t.listen_udp.iter().chain(&t.listen_tcp).chain(&t.listen_tls) {
            if a.get_ref().parse::<SocketAddr>().is_err() {
                return Err(err(a.span(), format!("{:?} is not an address:port", a.get_ref())));
            }
        }
        for a in &t.allow_peers {
            if let Err(e) = crate::turn::policy::Net::parse(a.get_ref()) {
                return Err(err(a.span(), format!("allow_peers: {e}")));
            }
        }
        if t.enabled() {
            let (min, max) = (*t.port_min.get_ref(), t.port_max);
            if min < 1024 || min > max || ((max - min) as usize + 1) < workers * 4 {
                return Err(err(t.port_min.span(), format!("turn port range {min}-{max}: need port_min >= 1024 and 4 ports per worker")));
            }
            if t.relay_v4().is_none() && t.relay_v6().is_none() {
                return Err(ConfigError(format!("{origin}: turn: set relay_address (the listeners bind a wildcard)")));
            }
            if matches!(t.relay_address, Some(IpAddr::V6(_))) || matches!(t.relay_address6, Some(IpAddr::V4(_))) {
                return Err(ConfigError(format!("{origin}: turn: relay_address is IPv4, relay_address6 is IPv6")));
            }
            if t.realm.is_empty() || t.default_lifetime_secs == 0 || t.max_lifetime_secs < t.default_lifetime_secs || t.nonce_secs == 0 {
                return Err(ConfigError(format!(
                    "{origin}: turn: realm must be set, 0 < default_lifetime_secs <= max_lifetime_secs, nonce_secs > 0"
                )));
            }
            if t.tls_cert.is_empty() != t.tls_key.is_empty() {
                return Err(ConfigError(format!("{origin}: turn: set both tls_cert and tls_key, or neither (self-signed)")));
            }
            if t.users.is_empty() && t.rest_secret.is_empty() {
                return Err(ConfigError(format!("{origin}: turn: configure users or rest_secret (no anonymous relaying)")));
            }
        }
        if self.general.worker_scheduling != Scheduling::Other && !(1..=99).contains(&self.general.worker_priority) {
            return Err(ConfigError(format!("{origin}: worker_priority must be 1..99 for real-time worker_scheduling")));
        }
        if self.media.learning_window_ms > 60_000 {
            return Err(ConfigError(format!("{origin}: learning_window_ms must be at most 60000")));
        }
        Ok(())
    }

    pub fn worker_count(&self) -> usize {
        if self.general.workers == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            self.general.workers
        }
    }

    pub fn addrs(list: &[Spanned<String>]) -> Vec<SocketAddr> {
        list.iter().filter_map(|s| s.get_ref().parse().ok()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid_and_loopback_only() {
        let c = Config::default_config();
        for i in &c.interfaces {
            let i = i.get_ref();
            assert!(i.address.map_or(true, |a| a.is_loopback()));
            assert!(i.address6.map_or(true, |a| a.is_loopback()));
        }
        for a in Config::addrs(&c.control.ng_udp).iter().chain(&Config::addrs(&c.control.http)) {
            assert!(a.ip().is_loopback());
        }
        assert_eq!(*c.media.port_min.get_ref(), 30000);
        assert!(!c.turn.enabled(), "the embedded default runs no TURN server");
    }

    #[test]
    fn turn_section_is_checked() {
        let base = "[[interface]]\nname='a'\naddress='127.0.0.1'\n[turn]\nlisten_udp = ['127.0.0.1:3478']\n";
        let ok = format!("{base}users = {{ demo = 'pw' }}\n");
        let c = Config::from_toml(&ok, "x.toml").unwrap();
        assert!(c.turn.enabled());
        assert_eq!(c.turn.relay_v4(), Some("127.0.0.1".parse().unwrap()));
        let e = Config::from_toml(&format!("{ok}allow_peers = ['10.0.0.0/8 9-1']\n"), "x.toml").unwrap_err().0;
        assert!(e.contains("line 7") && e.contains("allow_peers"), "{e}");
        let e = Config::from_toml(base, "x.toml").unwrap_err().0;
        assert!(e.contains("users or rest_secret"), "{e}");
        let e = Config::from_toml(&format!("{ok}port_min = 100\n"), "x.toml").unwrap_err().0;
        assert!(e.contains("turn port range"), "{e}");
        let example = include_str!("../../config/examples/turn-loopback.toml");
        let c = Config::from_toml(example, "turn-loopback.toml").unwrap();
        assert_eq!(c.turn.rest_secret, "loopback-test-secret");
        assert_eq!(c.turn.users.get("demo").map(String::as_str), Some("demo-password"));
        assert_eq!(Config::addrs(&c.turn.listen_tls), vec!["127.0.0.1:5349".parse::<SocketAddr>().unwrap()]);
        let e = Config::from_toml(&format!("{base}rest_secret = 's'\ntls_cert = 'c.pem'\n"), "t").unwrap_err().0;
        assert!(e.contains("tls_key"), "{e}");
    }

    #[test]
    fn opus_encoder_settings() {
        let c = Config::default_config();
        assert_eq!((c.media.opus_application, c.media.opus_complexity, c.media.opus_bitrate), (OpusApplication::LowDelay, 0, 64_000));
        let base = "[[interface]]\nname='a'\naddress='127.0.0.1'\n[media]\n";
        let voip = Config::from_toml(&format!("{base}opus_application = 'voip'\nopus_complexity = 5\n"), "x.toml").unwrap();
        assert_eq!((voip.media.opus_application, voip.media.opus_complexity), (OpusApplication::Voip, 5));
        let e = Config::from_toml(&format!("{base}opus_application = 'audio'\n"), "x.toml").unwrap_err().0;
        assert!(e.contains("opus_application") || e.contains("unknown variant"), "{e}");
    }

    #[test]
    fn worker_scheduling() {
        let c = Config::default_config();
        assert_eq!(c.general.worker_scheduling, Scheduling::Other);
        let base = "[[interface]]\nname='a'\naddress='127.0.0.1'\n[general]\n";
        let rt = Config::from_toml(&format!("{base}worker_scheduling = 'fifo'\nworker_priority = 20\n"), "x.toml").unwrap();
        assert_eq!((rt.general.worker_scheduling, rt.general.worker_priority), (Scheduling::Fifo, 20));
        let e = Config::from_toml(&format!("{base}worker_scheduling = 'rr'\nworker_priority = 0\n"), "x.toml").unwrap_err().0;
        assert!(e.contains("worker_priority must be 1..99"), "{e}");
        let e = Config::from_toml(&format!("{base}worker_scheduling = 'deadline'\n"), "x.toml").unwrap_err().0;
        assert!(e.contains("unknown variant"), "{e}");
    }

    #[test]
    fn errors_carry_line_numbers() {
        let bad = "[general]\nworkers = 1\n\n[media]\nport_min = 40000\nport_max = 30000\n[[interface]]\nname='a'\naddress='127.0.0.1'\n";
        let e = Config::from_toml(bad, "x.toml").unwrap_err().0;
        assert!(e.contains("line 5"), "{e}");
        let bad = "[general]\nworkerz = 1\n";
        let e = Config::from_toml(bad, "x.toml").unwrap_err().0;
        assert!(e.contains("line 2"), "{e}");
        let bad = "[[interface]]\nname='a'\naddress='127.0.0.300'\n";
        let e = Config::from_toml(bad, "x.toml").unwrap_err().0;
        assert!(e.contains("line 3"), "{e}");
    }
}
