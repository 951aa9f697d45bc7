//! The webrtc-rs `turn` 0.17 crate's TURN server, as a contestant for scripts/turn-compare.sh
//! (eagw replaced that crate with its own sans-I/O core in src/turn; this is the benchmark
//! behind that choice). UDP only (the crate has no TCP or TLS listener); long-term
//! credentials; relayed addresses on RELAY_IP from a port range; no peer filter (the crate
//! has none, so loopback peers are allowed). Exits by itself after SECONDS.
//!
//!   cargo run --release --example turn_crate_server -- LISTEN RELAY_IP PORT_MIN PORT_MAX SECONDS [THREADS] [REALM] [USER=PASSWORD]
//!   e.g. turn_crate_server 127.0.0.1:3630 127.0.0.1 62300 62899 600 2 eagw.local demo=demo-password
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_range::RelayAddressGeneratorRanges;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;

/// Long-term credentials: the key MD5(user:realm:password) of each known user.
struct Users(HashMap<String, Vec<u8>>);

impl AuthHandler for Users {
    fn auth_handle(&self, user: &str, _realm: &str, _src: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        self.0.get(user).cloned().ok_or(turn::Error::ErrNoSuchUser)
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        eprintln!("usage: turn_crate_server LISTEN RELAY_IP PORT_MIN PORT_MAX SECONDS [THREADS] [REALM] [USER=PASSWORD]");
        std::process::exit(2);
    }
    let listen: SocketAddr = a[1].parse().expect("LISTEN");
    let relay_ip: IpAddr = a[2].parse().expect("RELAY_IP");
    let min_port: u16 = a[3].parse().expect("PORT_MIN");
    let max_port: u16 = a[4].parse().expect("PORT_MAX");
    let seconds: u64 = a[5].parse().expect("SECONDS");
    let threads: usize = a.get(6).map_or(2, |t| t.parse().expect("THREADS"));
    let realm = a.get(7).map_or("eagw.local", |s| s.as_str()).to_owned();
    let cred = a.get(8).map_or("demo=demo-password", |s| s.as_str());
    let (user, pw) = cred.split_once('=').expect("USER=PASSWORD");
    let users = Users(HashMap::from([(user.to_owned(), generate_auth_key(user, &realm, pw))]));

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().unwrap();
    rt.block_on(async move {
        let conn = Arc::new(tokio::net::UdpSocket::bind(listen).await.expect("bind LISTEN"));
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn,
                relay_addr_generator: Box::new(RelayAddressGeneratorRanges {
                    relay_address: relay_ip,
                    min_port,
                    max_port,
                    max_retries: 0, // the crate's default: 10 random ports tried
                    address: relay_ip.to_string(),
                    net: Arc::new(Net::new(None)),
                }),
            }],
            realm,
            auth_handler: Arc::new(users),
            channel_bind_timeout: Duration::from_secs(0), // the crate's default, 10 minutes
            alloc_close_notify: None,
        })
        .await
        .expect("TURN server");
        eprintln!("turn crate server on {listen} (UDP), relays on {relay_ip}:{min_port}-{max_port}, {threads} threads, {seconds} s");
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let _ = server.close().await;
    });
    // the per-allocation tasks may still hold sockets: end the process rather than wait
    rt.shutdown_timeout(Duration::from_secs(1));
}
