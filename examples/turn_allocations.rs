//! Memory of N concurrent TURN allocations: opens N UDP sockets, allocates on each (401
//! challenge, then the authenticated Allocate) against a TURN server on loopback, and
//! reports the server's RSS before and after (from /proc/PID/status), the sockets' kernel
//! memory aside. The allocations stay until the tool exits (then they expire). Refusals
//! are counted by error code (so `... 1 demo wrong` shows how a wrong password is answered).
//!
//!   cargo run --release --example turn_allocations -- 127.0.0.1:3478 PID 5000 [user] [password] [realm]
use eagw::turn::auth::long_term_key;
use eagw::turn::client::{parse_response, request, Auth, Req};
use rtc_stun::message::METHOD_ALLOCATE;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

fn rss_kib(pid: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: turn_allocations SERVER PID N [user] [password] [realm]");
        std::process::exit(2);
    }
    let server: SocketAddr = a[1].parse().expect("server address");
    let pid = &a[2];
    let n: usize = a[3].parse().expect("N");
    let user = a.get(4).map_or("demo", |s| s.as_str());
    let pw = a.get(5).map_or("demo-password", |s| s.as_str());
    let realm = a.get(6).map_or("eagw.local", |s| s.as_str());
    let p = rtc_crypto::default_provider().unwrap();
    let key = long_term_key(user, realm, pw, p.crypto()).unwrap();
    let before = rss_kib(pid);
    let mut socks = Vec::with_capacity(n);
    let (mut ok, mut failed) = (0, 0);
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    let mut refuse = |what: String| *codes.entry(what).or_default() += 1;
    let mut buf = [0u8; 1500];
    for i in 0..n {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut txid = [0u8; 12];
        txid[..8].copy_from_slice(&(i as u64 * 2).to_be_bytes());
        let req = Req { transport: true, ..Default::default() };
        s.send_to(&request(METHOD_ALLOCATE, txid, &req, None, p.crypto()), server).unwrap();
        let nonce = match s.recv_from(&mut buf).ok().and_then(|(len, _)| parse_response(&buf[..len])) {
            Some((Some(401), Some(nonce))) => nonce,
            r => {
                // e.g. 437: the server still holds an allocation of an earlier socket
                // that had this port
                refuse(match r {
                    Some((Some(c), _)) => format!("{c} to the first Allocate"),
                    _ => "no answer to the first Allocate".into(),
                });
                failed += 1;
                continue;
            }
        };
        txid[..8].copy_from_slice(&(i as u64 * 2 + 1).to_be_bytes());
        let auth = Auth { user, realm, nonce: &nonce, key: &key };
        s.send_to(&request(METHOD_ALLOCATE, txid, &req, Some(&auth), p.crypto()), server).unwrap();
        match s.recv_from(&mut buf).ok().and_then(|(len, _)| parse_response(&buf[..len])) {
            Some((None, _)) => ok += 1,
            r => {
                refuse(match r {
                    Some((Some(c), _)) => format!("{c}"),
                    _ => "no answer".into(),
                });
                failed += 1
            }
        }
        socks.push(s);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(pid);
    let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} x{n}")).collect();
    let codes = if codes.is_empty() { String::new() } else { format!(": {}", codes.join(", ")) };
    println!(
        "{ok} allocations ({failed} refused{codes}): server RSS {before} KiB -> {after} KiB, +{} KiB ({:.2} KiB per allocation)",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / ok.max(1) as f64
    );
}
