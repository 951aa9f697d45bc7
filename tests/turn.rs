//! eagw's embedded TURN server against coturn's own client, `turnutils_uclient`, and its
//! echo peer `turnutils_peer` (Debian package `coturn`), over UDP on loopback; and a TURN
//! client played in Rust (rtc-stun) for the refusals: wrong password, expired REST
//! credentials, denied peers, quotas, junk, while another allocation keeps relaying.

mod common;

use common::Eagw;
use eagw::turn::auth::{long_term_key, rest_password};
use rtc_stun::attributes::*;
use rtc_stun::error_code::ErrorCodeAttribute;
use rtc_stun::integrity::MessageIntegrity;
use rtc_stun::message::*;
use rtc_stun::xoraddr::XorMappedAddress;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The TURN port of a test slot (clear of the slots' ng, HTTP and media ports).
fn turn_port(slot: u16) -> u16 {
    25000 + slot * 10
}

/// The TURN-over-TLS port of a slot.
fn tls_port(slot: u16) -> u16 {
    turn_port(slot) + 1
}

/// `[turn]` and `[media]` for a slot: media on the first half of the slot's range, relay
/// ports on the second; TLS with a certificate generated at start; `extra` lines go into `[turn]`.
fn config(slot: u16, extra: &str) -> String {
    let (_, _, pmin, pmax) = common::ports(slot);
    let mid = pmin + 200;
    format!(
        "[media]\nport_min = {pmin}\nport_max = {1}\n[turn]\nlisten_udp = [\"127.0.0.1:{0}\"]\nlisten_tcp = [\"127.0.0.1:{0}\"]\nlisten_tls = [\"127.0.0.1:{2}\"]\nrealm = \"eagw.test\"\n\
         relay_address = \"127.0.0.1\"\nport_min = {mid}\nport_max = {pmax}\n\
         users = {{ demo = \"demo-password\", bob = \"bob-pw\" }}\nrest_secret = \"loopback-test-secret\"\n{extra}\n",
        turn_port(slot),
        mid - 1,
        tls_port(slot),
    )
}

struct Kid(Child);
impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// coturn's echo peer on `port` and `port + 1` (it binds both).
fn peer(port: u16) -> Kid {
    let k = Command::new("turnutils_peer")
        .args(["-L", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("turnutils_peer (Debian package coturn; scripts/deps.sh test installs it)");
    std::thread::sleep(Duration::from_millis(300));
    Kid(k)
}

/// What turnutils_uclient reported.
#[derive(Debug, Default)]
struct Report {
    sent: u64,
    received: u64,
    lost_zero: bool,
    out: String,
}

/// Runs `turnutils_uclient` against the slot's TURN port (bounded: `-n` messages).
fn uclient(slot: u16, args: &[&str]) -> Report {
    uclient_at(turn_port(slot), turn_port(slot) + 3, args)
}

/// Runs `turnutils_uclient` against TURN port `port`, the echo peer on `peer_port`.
fn uclient_at(port: u16, peer_port: u16, args: &[&str]) -> Report {
    let mut cmd = Command::new("turnutils_uclient");
    cmd.args(["-p", &port.to_string(), "-e", "127.0.0.1", "-r", &peer_port.to_string()]).args(args).arg("127.0.0.1");
    let out = cmd.output().expect("turnutils_uclient");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut r = Report { out: text.clone(), ..Report::default() };
    for l in text.lines() {
        // "start_mclient: tot_send_msgs=400, tot_recv_msgs=400"
        if let Some(rest) = l.split("start_mclient: tot_send_msgs=").nth(1) {
            let mut it = rest.split(", tot_recv_msgs=");
            r.sent = it.next().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            r.received = it.next().and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        }
        if l.contains("Total lost packets 0 (") {
            r.lost_zero = true;
        }
    }
    r
}

fn metric(e: &Eagw, name: &str) -> u64 {
    let (_, body) = e.http("GET", "/metrics", "text/plain", b"");
    let body = String::from_utf8_lossy(&body).to_string();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("eagw_{name} ")).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no metric {name} in {body}"))
}

#[test]
fn uclient_relays_over_udp_with_channels_send_indications_and_rest_credentials() {
    let slot = 45;
    let port = turn_port(slot);
    let e = Eagw::start(slot, &config(slot, &format!("allow_peers = [\"127.0.0.1/32 {}-{}\"]", port + 3, port + 4)));
    let _peer = peer(port + 3);
    // ChannelBind + ChannelData, long-term user from config: 4 clients x 100 messages
    let r = uclient(slot, &["-c", "-u", "demo", "-w", "demo-password", "-n", "100", "-m", "4", "-l", "200", "-z", "10"]);
    assert!(r.lost_zero && r.sent == 400 && r.received == 400, "channels: {r:?}");
    // Send / Data indications, TURN REST credentials
    let r = uclient(slot, &["-c", "-s", "-u", "alice", "-W", "loopback-test-secret", "-n", "100", "-m", "4", "-l", "200", "-z", "10"]);
    assert!(r.lost_zero && r.sent == 400 && r.received == 400, "send indications: {r:?}");
    assert!(metric(&e, "turn_to_peer_packets_total") >= 800);
    assert!(metric(&e, "turn_to_client_packets_total") >= 800);
    assert!(metric(&e, "turn_allocations_created_total") >= 8);
    assert_eq!(metric(&e, "turn_malformed_total"), 0);
    assert_eq!(metric(&e, "turn_send_errors_total"), 0);
    // a wrong password: no allocation, counted
    let r = uclient(slot, &["-c", "-u", "demo", "-w", "wrong", "-n", "5", "-m", "1"]);
    assert!(r.received == 0 && r.out.contains("Cannot complete Allocation"), "{r:?}");
    assert!(metric(&e, "turn_auth_failures_total") >= 1);
}

#[test]
fn loopback_peers_are_denied_by_default() {
    let slot = 46;
    let port = turn_port(slot);
    let e = Eagw::start(slot, &config(slot, ""));
    let _peer = peer(port + 3);
    let r = uclient(slot, &["-c", "-u", "demo", "-w", "demo-password", "-n", "5", "-m", "1"]);
    assert_eq!(r.received, 0, "{r:?}");
    assert!(r.out.contains("403"), "{}", r.out);
    assert!(metric(&e, "turn_denied_peers_total") >= 1);
    assert_eq!(metric(&e, "turn_to_peer_packets_total"), 0);
    // eagw's own addresses too, e.g. its ng port, and private ones
    let mut c = TurnClient::new(port, "demo", "demo-password");
    assert_eq!(c.allocate(), None);
    for p in ["127.0.0.1:21460", "10.0.0.1:5000", "192.168.1.1:5000"] {
        assert_eq!(c.create_permission(p.parse().unwrap()), Some(403), "{p}");
    }
}

/// A TURN client over a UDP socket, built with rtc-stun.
struct TurnClient {
    sock: UdpSocket,
    server: SocketAddr,
    user: String,
    key: Vec<u8>,
    nonce: Vec<u8>,
}

impl TurnClient {
    fn new(port: u16, user: &str, password: &str) -> TurnClient {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let crypto = rtc_crypto::default_provider().unwrap();
        TurnClient {
            sock,
            server: format!("127.0.0.1:{port}").parse().unwrap(),
            user: user.into(),
            key: long_term_key(user, "eagw.test", password, crypto.crypto()).unwrap(),
            nonce: vec![],
        }
    }

    fn request(&mut self, method: Method, fill: impl Fn(&mut Message)) -> Message {
        for _ in 0..3 {
            let mut m = Message::new();
            m.typ = MessageType::new(method, CLASS_REQUEST);
            m.new_transaction_id().unwrap();
            m.write_header();
            fill(&mut m);
            if !self.nonce.is_empty() {
                m.add(ATTR_USERNAME, self.user.as_bytes());
                m.add(ATTR_REALM, b"eagw.test");
                m.add(ATTR_NONCE, &self.nonce);
                let p = rtc_crypto::default_provider().unwrap();
                MessageIntegrity::new_raw_integrity_with_provider(self.key.clone(), p.crypto()).add_to(&mut m).unwrap();
            }
            self.sock.send_to(&m.raw, self.server).unwrap();
            let mut buf = [0u8; 2048];
            let (n, _) = self.sock.recv_from(&mut buf).expect("a TURN reply");
            let mut r = Message { raw: buf[..n].to_vec(), ..Message::default() };
            r.decode().unwrap();
            assert_eq!(r.transaction_id, m.transaction_id);
            let code = code(&r);
            // a challenge (no nonce yet) or a stale nonce: take the nonce and go again
            if let Ok(n) = r.get(ATTR_NONCE) {
                let retry = self.nonce.is_empty() || code == Some(438);
                self.nonce = n;
                if retry {
                    continue;
                }
            }
            return r;
        }
        panic!("no answer after 3 tries");
    }

    /// Allocates; the error code if refused.
    fn allocate(&mut self) -> Option<u16> {
        code(&self.request(METHOD_ALLOCATE, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0])))
    }

    /// Allocates and returns the relayed address.
    fn relayed(&mut self) -> SocketAddr {
        let r = self.request(METHOD_ALLOCATE, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
        assert_eq!(code(&r), None);
        let mut a = XorMappedAddress::default();
        a.get_from_as(&r, ATTR_XOR_RELAYED_ADDRESS).unwrap();
        SocketAddr::new(a.ip, a.port)
    }

    fn channel_bind(&mut self, peer: SocketAddr, channel: u16) -> Option<u16> {
        code(&self.request(METHOD_CHANNEL_BIND, |m| {
            m.add(ATTR_CHANNEL_NUMBER, &[(channel >> 8) as u8, channel as u8, 0, 0]);
            XorMappedAddress { ip: peer.ip(), port: peer.port() }.add_to_as(m, ATTR_XOR_PEER_ADDRESS).unwrap();
        }))
    }

    fn create_permission(&mut self, peer: SocketAddr) -> Option<u16> {
        code(&self.request(METHOD_CREATE_PERMISSION, |m| {
            XorMappedAddress { ip: peer.ip(), port: peer.port() }.add_to_as(m, ATTR_XOR_PEER_ADDRESS).unwrap();
        }))
    }
}

fn code(m: &Message) -> Option<u16> {
    use rtc_stun::message::Getter;
    let mut e = ErrorCodeAttribute::default();
    e.get_from(m).ok().map(|_| e.code.0)
}

#[test]
fn refusals_and_junk_leave_a_running_allocation_alone() {
    let slot = 47;
    let port = turn_port(slot);
    let e = Eagw::start(slot, &config(slot, &format!("allow_peers = [\"127.0.0.1/32 {}-{}\"]\nuser_quota = 4", port + 3, port + 4)));
    let _peer = peer(port + 3);
    // a healthy uclient session runs throughout (2 clients x 300 messages, 10 ms apart; it
    // makes 2 allocations per client)
    let healthy = std::thread::spawn(move || uclient(slot, &["-c", "-u", "demo", "-w", "demo-password", "-n", "300", "-m", "2", "-l", "120", "-z", "10"]));
    std::thread::sleep(Duration::from_millis(500));

    // wrong password: 401 with a fresh nonce each time, never an allocation
    let mut c = TurnClient::new(port, "bob", "not-bobs-password");
    let mut nonces = vec![];
    for _ in 0..3 {
        let r = c.request(METHOD_ALLOCATE, |m| m.add(ATTR_REQUESTED_TRANSPORT, &[17, 0, 0, 0]));
        assert_eq!(code(&r), Some(401));
        assert_eq!(r.get(ATTR_REALM).unwrap(), b"eagw.test");
        nonces.push(r.get(ATTR_NONCE).unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    nonces.dedup();
    assert_eq!(nonces.len(), 3, "a fresh nonce with every 401");
    // expired REST credentials: 401; valid ones: allocated
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    for (expiry, want) in [(unix - 10, Some(401)), (unix + 600, None)] {
        let user = format!("{expiry}:carol");
        let mut c = TurnClient::new(port, &user, &rest_password(b"loopback-test-secret", &user));
        assert_eq!(c.allocate(), want, "REST expiry {expiry} at {unix}");
    }
    // bob's quota is 4 allocations (from 4 ports); the 5th gets 486
    let mut bobs: Vec<TurnClient> = (0..5).map(|_| TurnClient::new(port, "bob", "bob-pw")).collect();
    let got: Vec<Option<u16>> = bobs.iter_mut().map(|c| c.allocate()).collect();
    assert_eq!(got, vec![None, None, None, None, Some(486)]);
    // junk from another socket: nothing answers it with success, nothing breaks
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for i in 0..2000u32 {
        let b = i.to_be_bytes();
        let pkt: Vec<u8> = match i % 4 {
            0 => vec![0x40, b[3], 0xff, 0xff, 1, 2, 3],              // ChannelData longer than the datagram
            1 => vec![0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, b[0], b[1]], // truncated STUN
            2 => vec![0, 0x16, 0, 8, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0, 8], // Send ind., cut
            _ => b.repeat(50),
        };
        junk.send_to(&pkt, server).unwrap();
        if i % 100 == 99 {
            // bursts the listener's receive buffer holds: the kernel drops what overflows
            // it before eagw sees (and counts) it, and a loaded CI machine drains slowly
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let r = healthy.join().unwrap();
    assert!(r.lost_zero && r.sent == 600 && r.received == 600, "the healthy session lost packets: {r:?}");
    assert!(metric(&e, "turn_auth_failures_total") >= 3);
    assert!(metric(&e, "turn_rest_expired_total") >= 1);
    assert!(metric(&e, "turn_quota_refused_total") >= 1);
    assert!(metric(&e, "turn_malformed_total") + metric(&e, "turn_no_allocation_total") >= 1000);
    // Refresh with LIFETIME 0 gives the quota back
    let r = bobs[0].request(METHOD_REFRESH, |m| m.add(ATTR_LIFETIME, &0u32.to_be_bytes()));
    assert_eq!(code(&r), None);
    assert_eq!(bobs[4].allocate(), None);
}

/// A relayed candidate reaching eagw's own media ports: party A talks RTP to eagw only
/// through eagw's TURN relay (its SDP names the relayed address, as a browser's relay
/// candidate would), party B directly; RTP flows both ways byte for byte. The allow-list
/// opens eagw's media range on loopback and nothing else of eagw (its ng port stays denied).
#[test]
fn relayed_party_reaches_eagws_own_media_ports() {
    let slot = 48;
    let port = turn_port(slot);
    let (ng, _, pmin, _) = common::ports(slot);
    let mut e = Eagw::start(slot, &config(slot, &format!("allow_peers = [\"127.0.0.1/32 {pmin}-{}\"]", pmin + 199)));
    let mut a = TurnClient::new(port, "demo", "demo-password");
    let relayed = a.relayed();
    assert_eq!(a.create_permission(format!("127.0.0.1:{ng}").parse().unwrap()), Some(403), "eagw's ng port stays denied");
    let b = common::peer();
    let r = e.ng(&common::offer("turn-call", "tag-a", &common::sdp(relayed.port(), "")).build());
    assert_eq!(common::s(&r, "result"), "ok", "{r:?}");
    let to_b_side = common::media_addr(&common::s(&r, "sdp"));
    let r = e.ng(&common::answer("turn-call", "tag-a", "tag-b", &common::sdp(b.local_addr().unwrap().port(), "")).build());
    let to_a_side = common::media_addr(&common::s(&r, "sdp"));
    assert_eq!(a.channel_bind(to_a_side, 0x4001), None);
    for i in 0..20u16 {
        let p = common::rtp(i, 0xaaaa, &[i as u8; 160]);
        a.sock.send_to(&eagw::turn::client::channel_data(0x4001, &p), a.server).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = b.recv_from(&mut buf).expect("B hears A through TURN and eagw");
        assert_eq!((&buf[..n], from), (&p[..], to_b_side));
        let q = common::rtp(i, 0xbbbb, &[!(i as u8); 160]);
        b.send_to(&q, to_b_side).unwrap();
        let (n, _) = a.sock.recv_from(&mut buf).expect("A hears B through eagw and TURN");
        // ChannelData on our channel, carrying B's packet as eagw's media port sent it
        assert_eq!(&buf[..4], &[0x40, 0x01, 0, q.len() as u8]);
        assert_eq!(&buf[4..n], &q[..]);
    }
    assert!(metric(&e, "turn_to_peer_packets_total") >= 20);
    assert!(metric(&e, "turn_to_client_packets_total") >= 20);
}

/// TURN over TCP (RFC 8656 stream framing) with coturn's client: channels and Send
/// indications, odd message lengths (padding); a stream cut mid-message and a stream of
/// garbage are closed and counted while the uclient sessions lose nothing.
#[test]
fn uclient_over_tcp_and_broken_streams() {
    use std::io::{Read, Write};
    let slot = 49;
    let port = turn_port(slot);
    let e = Eagw::start(slot, &config(slot, &format!("allow_peers = [\"127.0.0.1/32 {}-{}\"]", port + 3, port + 4)));
    let _peer = peer(port + 3);
    let healthy = std::thread::spawn(move || uclient(slot, &["-t", "-c", "-u", "demo", "-w", "demo-password", "-n", "200", "-m", "2", "-l", "201", "-z", "10"]));
    std::thread::sleep(Duration::from_millis(300));
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // half a STUN message, then the client goes away
    let req = eagw::turn::client::request(METHOD_ALLOCATE, [7; 12], &eagw::turn::client::Req { transport: true, ..Default::default() }, None, rtc_crypto::default_provider().unwrap().crypto());
    let mut cut = std::net::TcpStream::connect(server).unwrap();
    cut.write_all(&req[..req.len() / 2]).unwrap();
    drop(cut);
    // garbage: eagw closes the connection
    let mut junk = std::net::TcpStream::connect(server).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    junk.write_all(b"\x16\x03\x01\x00\x10 this is not TURN").unwrap();
    let mut b = [0u8; 1024];
    assert_eq!(junk.read(&mut b).unwrap_or(0), 0, "eagw closed the garbage stream");
    // a whole request on a stream is answered (401 with a nonce)
    let mut ok = std::net::TcpStream::connect(server).unwrap();
    ok.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    ok.write_all(&req).unwrap();
    let n = ok.read(&mut b).unwrap();
    let (code, nonce) = eagw::turn::client::parse_response(&b[..n]).expect("a STUN response");
    assert_eq!(code, Some(401));
    assert!(nonce.is_some());
    let r = uclient(slot, &["-t", "-s", "-c", "-u", "demo", "-w", "demo-password", "-n", "100", "-m", "2", "-l", "99", "-z", "10"]);
    assert!(r.lost_zero && r.sent == 200 && r.received == 200, "send indications over TCP: {r:?}");
    let r = healthy.join().unwrap();
    assert!(r.lost_zero && r.sent == 400 && r.received == 400, "channels over TCP: {r:?}");
    assert!(metric(&e, "turn_malformed_total") >= 1);
    // allocations end with their connections
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(metric(&e, "turn_allocations"), 0);
}

/// TURN over TLS (RFC 8656 §3.1) with coturn's client (`-t -S`: TLS over TCP, its default
/// of no certificate verification against eagw's self-signed certificate): channels and
/// Send indications, odd lengths, no loss; while it runs, a TLS connection that sends
/// garbage, one that sends a plain TURN request, and one cut mid-handshake are closed and
/// counted, and the uclient session loses nothing.
#[test]
fn uclient_over_tls_and_broken_tls_streams() {
    use std::io::{Read, Write};
    let slot = 55;
    let port = turn_port(slot);
    let e = Eagw::start(slot, &config(slot, &format!("allow_peers = [\"127.0.0.1/32 {}-{}\"]", port + 3, port + 4)));
    let _peer = peer(port + 3);
    let tls = tls_port(slot);
    let healthy = std::thread::spawn(move || {
        uclient_at(tls, port + 3, &["-t", "-S", "-c", "-u", "demo", "-w", "demo-password", "-n", "200", "-m", "2", "-l", "201", "-z", "10"])
    });
    std::thread::sleep(Duration::from_millis(300));
    let server: SocketAddr = format!("127.0.0.1:{tls}").parse().unwrap();
    let mut b = [0u8; 1024];
    // garbage: not a TLS record; eagw closes the connection (after an alert at most)
    let mut junk = std::net::TcpStream::connect(server).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\nHost: eagw\r\n\r\n").unwrap();
    let mut got = vec![];
    while let Ok(n) = junk.read(&mut b) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&b[..n]);
    }
    assert!(got.len() <= 7, "at most a TLS alert before the close: {got:?}");
    // a plain TURN request on the TLS port
    let req = eagw::turn::client::request(METHOD_ALLOCATE, [7; 12], &eagw::turn::client::Req { transport: true, ..Default::default() }, None, rtc_crypto::default_provider().unwrap().crypto());
    let mut plain = std::net::TcpStream::connect(server).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    plain.write_all(&req).unwrap();
    while let Ok(n) = plain.read(&mut b) {
        if n == 0 {
            break;
        }
        assert_ne!(b[0], 1, "no STUN answer in clear on the TLS port");
    }
    // the start of a ClientHello record, then the client goes away
    let mut cut = std::net::TcpStream::connect(server).unwrap();
    cut.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(cut);
    // Send indications over TLS, odd lengths
    let r = uclient_at(tls, port + 3, &["-t", "-S", "-s", "-c", "-u", "demo", "-w", "demo-password", "-n", "100", "-m", "2", "-l", "99", "-z", "10"]);
    assert!(r.lost_zero && r.sent == 200 && r.received == 200, "send indications over TLS: {r:?}");
    let r = healthy.join().unwrap();
    assert!(r.lost_zero && r.sent == 400 && r.received == 400, "channels over TLS: {r:?}");
    assert!(metric(&e, "turn_tls_errors_total") >= 2, "garbage and a plain request");
    assert!(metric(&e, "turn_tls_unfinished_total") >= 3, "three connections ended before a handshake");
    assert!(metric(&e, "turn_to_peer_packets_total") >= 600);
    assert_eq!(metric(&e, "turn_send_errors_total"), 0);
    // allocations end with their connections
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(metric(&e, "turn_allocations"), 0);
}
