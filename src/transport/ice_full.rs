//! Full ICE (RFC 8445) on one media socket, with `rtc-ice`'s agent (sans-I/O): eagw
//! sends connectivity checks itself, for a party that is ICE-lite (two lite agents never
//! connect) or when the `ICE-lite=off` flag asks for it. Facing a lite party eagw is
//! controlling and nominates; facing a full one the offerer controls (§6.1.1). Consent
//! (RFC 7675) comes with the agent's keepalive checks: a pair that stops answering fails
//! after 30 s and nothing more is sent to it.
//!
//! The agent is given the one host candidate of the socket and the party's candidates
//! from SDP; the worker feeds it STUN, time, and sends what it writes.

use super::ice::Creds;
use bytes::BytesMut;
use rtc_ice::agent::agent_config::AgentConfig;
use rtc_ice::agent::{Agent, Event};
use rtc_ice::candidate::candidate_host::CandidateHostConfig;
use rtc_ice::candidate::{unmarshal_candidate, CandidateConfig};
use rtc_ice::mdns::MulticastDnsMode;
use rtc_ice::state::ConnectionState;
use rtc_shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sansio::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the agent is told about the party (from its SDP) and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullIce {
    pub remote: Creds,
    /// `a=candidate` values (without `candidate:`) of component 1.
    pub candidates: Vec<String>,
    pub controlling: bool,
}

pub struct IceFull {
    agent: Agent,
    local_addr: SocketAddr,
    pub spec: FullIce,
    pub local: Creds,
    selected: Option<SocketAddr>,
    pub failed: bool,
    /// Checks and responses handled (connectivity and consent).
    pub checks: u64,
    pub last_check_ns: u64,
}

impl IceFull {
    pub fn new(local_addr: SocketAddr, local: Creds, spec: FullIce, now: Instant) -> Result<IceFull, String> {
        let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
        let config = AgentConfig {
            local_ufrag: local.ufrag.clone(),
            local_pwd: local.pwd.clone(),
            multicast_dns_mode: MulticastDnsMode::Disabled,
            is_controlling: spec.controlling,
            lite: false,
            // consent (RFC 7675): checks every 5 s, the pair fails 30 s after the last answer
            keepalive_interval: Some(Duration::from_secs(5)),
            disconnected_timeout: Some(Duration::from_secs(10)),
            failed_timeout: Some(Duration::from_secs(30)),
            check_interval: Duration::from_millis(50),
            ..Default::default()
        };
        let mut agent = Agent::new(now, Arc::new(config), provider).map_err(|e| format!("ICE agent: {e}"))?;
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".into(),
                address: local_addr.ip().to_string(),
                port: local_addr.port(),
                component: 1,
                ..Default::default()
            },
            tcp_type: Default::default(),
        }
        .new_candidate_host()
        .map_err(|e| format!("ICE host candidate: {e}"))?;
        agent.add_local_candidate(host).map_err(|e| format!("ICE host candidate: {e}"))?;
        for c in &spec.candidates {
            // the party's other candidates (TCP, other families, mDNS) are not for us
            if let Ok(c) = unmarshal_candidate(c) {
                if c.component() == 1 && c.addr().is_ipv4() == local_addr.is_ipv4() {
                    let _ = agent.add_remote_candidate(c);
                }
            }
        }
        agent
            .start_connectivity_checks(now, spec.controlling, spec.remote.ufrag.clone(), spec.remote.pwd.clone())
            .map_err(|e| format!("ICE: {e}"))?;
        Ok(IceFull { agent, local_addr, spec, local, selected: None, failed: false, checks: 0, last_check_ns: 0 })
    }

    pub fn selected(&self) -> Option<SocketAddr> {
        self.selected
    }

    /// One STUN datagram from `from`. Returns true when it moved the selected pair.
    pub fn on_stun(&mut self, pkt: &[u8], from: SocketAddr, now: Instant, now_ns: u64) -> Result<bool, String> {
        let msg = TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: self.local_addr,
                peer_addr: from,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
            message: BytesMut::from(pkt),
        };
        self.agent.handle_read(msg).map_err(|e| format!("ICE: {e}"))?;
        self.checks += 1;
        self.last_check_ns = now_ns;
        Ok(self.drain_events())
    }

    /// Runs the agent's timers (checks, nomination, keepalives, consent). Returns true
    /// when the selected pair changed.
    pub fn on_timeout(&mut self, now: Instant) -> bool {
        if self.agent.poll_timeout().is_some_and(|t| t <= now) {
            let _ = self.agent.handle_timeout(now);
        }
        self.drain_events()
    }

    pub fn next_timeout(&mut self) -> Option<Instant> {
        if self.failed {
            return None;
        }
        self.agent.poll_timeout()
    }

    /// The next datagram the agent wants sent, and where.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, BytesMut)> {
        self.agent.poll_write().map(|t| (t.transport.peer_addr, t.message))
    }

    fn drain_events(&mut self) -> bool {
        let mut moved = false;
        while let Some(ev) = self.agent.poll_event() {
            match ev.event {
                Event::SelectedCandidatePairChange(_, remote) => {
                    let a = remote.addr();
                    moved |= self.selected != Some(a);
                    self.selected = Some(a);
                }
                Event::ConnectionStateChange(ConnectionState::Failed | ConnectionState::Closed) => {
                    // consent lost, or no pair ever worked: stop sending
                    moved |= self.selected.is_some();
                    self.selected = None;
                    self.failed = true;
                }
                _ => {}
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ice::{IceLite, Outcome};

    /// eagw as the full, controlling agent against an ICE-lite party (our own responder).
    #[test]
    fn full_agent_nominates_a_lite_party() {
        let provider = rtc_crypto::default_provider().unwrap();
        let ours: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let theirs: SocketAddr = "127.0.0.1:41000".parse().unwrap();
        let (lc, rc) = (Creds::generate().unwrap(), Creds::generate().unwrap());
        let mut lite = IceLite::new(rc.clone());
        let spec = FullIce {
            remote: rc,
            candidates: vec![format!("1 1 udp 2130706431 {} {} typ host", theirs.ip(), theirs.port())],
            controlling: true,
        };
        let t0 = Instant::now();
        let mut full = IceFull::new(ours, lc, spec, t0).unwrap();
        let mut now = t0;
        for step in 0..200 {
            now = t0 + Duration::from_millis(20 * step);
            full.on_timeout(now);
            while let Some((to, pkt)) = full.poll_transmit() {
                assert_eq!(to, theirs);
                if let Outcome::Answer { reply, .. } = lite.on_stun(&pkt, ours, step, provider.crypto()) {
                    full.on_stun(&reply, theirs, now, step).unwrap();
                }
            }
            if full.selected().is_some() && lite.selected().is_some() {
                break;
            }
        }
        assert_eq!(full.selected(), Some(theirs), "after {:?}", now - t0);
        assert_eq!(lite.selected(), Some(ours), "the lite side saw USE-CANDIDATE");
    }
}
