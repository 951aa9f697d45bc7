//! The embedded TURN server (RFC 8656): browsers behind symmetric NATs and strict
//! firewalls get a relayed candidate from eagw itself, served by the same per-core workers.
//!
//! - [`server`]: the sans-IO core of one worker: allocations, permissions, channels,
//!   lifetimes, Send/Data indications, ChannelData, quotas, bandwidth caps, counters;
//! - [`auth`]: long-term credentials from config, TURN REST ephemeral credentials,
//!   stateless nonces;
//! - [`policy`]: which peers may be reached (denied ranges, the config allow-list).
//!
//! The worker (`worker::turn`) owns the sockets: one UDP listener per worker on the TURN
//! port with SO_REUSEPORT (the kernel keeps a client's 5-tuple on one worker), and the
//! relay sockets of that worker's allocations, from its slice of the relay port range.

pub mod auth;
pub mod client;
pub mod framer;
pub mod policy;
pub mod server;
pub mod tls;

use crate::config::Config;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Builds what the workers' TURN cores share from config; `None` when TURN is off.
pub fn shared(cfg: &Config) -> Result<Option<Arc<server::TurnShared>>, String> {
    let t = &cfg.turn;
    if !t.enabled() {
        return Ok(None);
    }
    let provider = rtc_crypto::default_provider().map_err(|e| format!("crypto provider: {e}"))?;
    let mut nonce_key = [0u8; 32];
    provider.random().fill(&mut nonce_key).map_err(|e| format!("random: {e}"))?;
    let users: Vec<(String, String)> = t.users.iter().map(|(u, p)| (u.clone(), p.clone())).collect();
    let creds = auth::Credentials::new(
        &t.realm,
        &users,
        Some(t.rest_secret.as_str()),
        nonce_key,
        t.nonce_secs * 1_000_000_000,
        provider.crypto(),
    )?;
    let mut own: Vec<IpAddr> = vec![];
    for i in &cfg.interfaces {
        let i = i.get_ref();
        own.extend([i.address, i.address6, i.advertise, i.advertise6].into_iter().flatten());
    }
    own.extend(t.listeners().iter().map(|a| a.ip()));
    own.extend([t.relay_v4(), t.relay_v6()].into_iter().flatten());
    own.sort();
    own.dedup();
    let allow = t.allow_peers.iter().filter_map(|a| policy::Net::parse(a.get_ref()).ok()).collect();
    let secs = 1_000_000_000;
    Ok(Some(Arc::new(server::TurnShared {
        creds,
        policy: policy::PeerPolicy { allow, own },
        limits: server::Limits {
            default_lifetime_ns: t.default_lifetime_secs * secs,
            max_lifetime_ns: t.max_lifetime_secs * secs,
            user_quota: t.user_quota,
            total_quota: t.total_quota,
            bytes_per_sec: t.bandwidth_kbps * 1000 / 8,
        },
        ledger: Mutex::new(Default::default()),
    })))
}

#[cfg(test)]
mod tests;
