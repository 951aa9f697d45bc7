//! Adversarial WebRTC: eagw terminates ICE-lite and DTLS-SRTP towards a browser that this
//! test plays over loopback UDP with the library's own pieces (`binding_request`, `Dtls`,
//! `Srtp`), and relays plain RTP to an "IMS" socket. Attackers send checks with wrong
//! credentials (one by one, then a flood of 5,000), a certificate other than the one in
//! the SDP, DTLS garbage, SRTP with bad tags and replays. Each is counted where eagw says
//! it counts it, none of it reaches the other side, the real calls keep relaying, and
//! eagw never sends media or DTLS to an address ICE did not nominate: the attackers get
//! only 401s, an address that passed a check without nominating only its STUN answer.

mod common;
use common::*;
use eagw::control::bencode::{DictBuilder, Value};
use eagw::transport::dtls::{parse_fingerprint, Dtls, Fingerprint, Identity, Keys};
use eagw::transport::ice::{binding_request, is_success_for, Creds};
use eagw::transport::sdes::{SrtpKey, Suite};
use eagw::transport::srtp::Srtp;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const BROWSER_UFRAG: &str = "Brws";
const BROWSER_PWD: &str = "browserpassword012345678";

fn crypto() -> std::sync::Arc<dyn rtc_crypto::RTCCryptoProvider> {
    rtc_crypto::default_provider().unwrap()
}

/// A browser's offer: one audio section, ICE, DTLS (`setup`), rtcp-mux, BUNDLE.
fn browser_sdp(port: u16, fingerprint: &str, setup: &str) -> String {
    format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
         a=candidate:1 1 udp 2122260223 127.0.0.1 {port} typ host generation 0\r\n\
         a=ice-ufrag:{BROWSER_UFRAG}\r\na=ice-pwd:{BROWSER_PWD}\r\na=ice-options:trickle\r\n\
         a=fingerprint:{fingerprint}\r\na=setup:{setup}\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n"
    )
}

/// The STUN error code of a Binding error response, None for anything else.
fn stun_error_code(p: &[u8]) -> Option<u16> {
    if p.len() < 20 || p[0..2] != [0x01, 0x11] || p[4..8] != [0x21, 0x12, 0xa4, 0x42] {
        return None;
    }
    let mut at = 20;
    while at + 4 <= p.len() {
        let (t, l) = (u16::from_be_bytes([p[at], p[at + 1]]), u16::from_be_bytes([p[at + 2], p[at + 3]]) as usize);
        if t == 0x0009 && l >= 4 && at + 8 <= p.len() {
            return Some((p[at + 6] & 7) as u16 * 100 + p[at + 7] as u16);
        }
        at += 4 + l.div_ceil(4) * 4;
    }
    None
}

/// A small deterministic generator for junk.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Junk in DTLS's range (RFC 7983: first byte 20–63) that is no DTLS record: no
/// content type of DTLS 1.2 (24–63), random bytes after.
fn non_records(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|_| {
            let len = 13 + (rng.next() % 200) as usize;
            let mut p = rng.bytes(len);
            p[0] = 24 + (rng.next() % 40) as u8;
            p
        })
        .collect()
}

/// DTLS-looking junk: no records (as above) alternating with records that have a real
/// DTLS 1.2 header (content type 20–23, epoch 0 or 1, a length that fits) and a random
/// body.
fn dtls_junk(rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    let mut out = vec![];
    for (i, p) in non_records(rng, n / 2).into_iter().enumerate() {
        let len = 13 + (rng.next() % 200) as usize;
        let mut r = rng.bytes(len);
        r[0] = 20 + (i % 4) as u8;
        r[1..3].copy_from_slice(&[0xfe, 0xfd]);
        r[3..5].copy_from_slice(&[0, (i % 2) as u8]);
        r[11..13].copy_from_slice(&((len - 13) as u16).to_be_bytes());
        out.push(p);
        out.push(r);
    }
    out
}

/// The browser side of one call, and the IMS peer.
struct Browser {
    sock: UdpSocket,
    /// eagw's host candidate, credentials and certificate fingerprint from its answer.
    eagw: SocketAddr,
    eagw_ice: Creds,
    dtls: Dtls,
    keys: Option<Keys>,
    tx: Option<Srtp>,
    rx: Option<Srtp>,
    /// Everything eagw sent the browser, first byte only (STUN, DTLS or media).
    seen: Vec<u8>,
}

struct WebRtcCall {
    id: String,
    browser: Browser,
    ims: UdpSocket,
    /// Where the IMS peer sends (eagw's IMS-facing port).
    to_ims_side: SocketAddr,
}

/// Offer from the browser (ICE=remove DTLS=off transport-protocol=RTP/AVP rtcp-mux=demux
/// towards IMS), answer from the plain-RTP IMS peer (rtcp-mux=require); the browser's
/// certificate is `presented`, its SDP announces `announced`.
fn setup_webrtc_call(e: &mut Eagw, id: &str, presented: &Identity, announced: &str, setup: &str) -> WebRtcCall {
    let sock = peer();
    let ims = peer();
    let offer_sdp = browser_sdp(sock.local_addr().unwrap().port(), announced, setup);
    let r = e.ng(&offer(id, "browser", &offer_sdp)
        .str("ICE", "remove")
        .str("DTLS", "off")
        .str("transport-protocol", "RTP/AVP")
        .val("rtcp-mux", Value::List(vec![Value::str("demux")]))
        .build());
    assert_eq!(s(&r, "result"), "ok", "offer: {r:?}");
    let to_ims = s(&r, "sdp");
    for gone in ["ice-", "candidate", "fingerprint", "setup", "SAVP", "rtcp-mux"] {
        assert!(!to_ims.contains(gone), "{gone} towards IMS: {to_ims}");
    }
    let to_ims_side = media_addr(&to_ims);
    let r = e.ng(&answer(id, "browser", "ims", &sdp(ims.local_addr().unwrap().port(), ""))
        .val("rtcp-mux", Value::List(vec![Value::str("require")]))
        .build());
    assert_eq!(s(&r, "result"), "ok", "answer: {r:?}");
    let ans = eagw::sdp::parse(&s(&r, "sdp")).unwrap();
    let m = &ans.media[0];
    assert_eq!(m.proto, "UDP/TLS/RTP/SAVPF");
    assert!(ans.session_attr("ice-lite").is_some() && m.has_attr("rtcp-mux"));
    let eagw_ice = Creds { ufrag: m.attr("ice-ufrag").unwrap().into(), pwd: m.attr("ice-pwd").unwrap().into() };
    let cands: Vec<&str> = m.attrs("candidate").collect();
    assert_eq!(cands.len(), 1, "one host candidate with rtcp-mux: {cands:?}");
    let f: Vec<&str> = cands[0].split_whitespace().collect();
    assert_eq!((f[1], f[6], f[7]), ("1", "typ", "host"));
    let eagw_addr = SocketAddr::new(f[4].parse().unwrap(), f[5].parse().unwrap());
    let eagw_fp: Fingerprint = parse_fingerprint(m.attr("fingerprint").unwrap()).unwrap();
    let want_setup = if setup == "active" { "passive" } else { "active" };
    assert_eq!(m.attr("setup"), Some(want_setup));
    // eagw's setup decides the browser's DTLS role
    let dtls = Dtls::new(presented, want_setup == "passive", &eagw_fp).unwrap();
    let browser = Browser { sock, eagw: eagw_addr, eagw_ice, dtls, keys: None, tx: None, rx: None, seen: vec![] };
    WebRtcCall { id: id.into(), browser, ims, to_ims_side }
}

impl Browser {
    fn addr(&self) -> SocketAddr {
        self.sock.local_addr().unwrap()
    }

    /// A connectivity check with eagw's credentials, from this browser's socket.
    fn check(&self, use_candidate: bool) {
        let user = format!("{}:{BROWSER_UFRAG}", self.eagw_ice.ufrag);
        self.sock.send_to(&binding_request(&user, &self.eagw_ice.pwd, use_candidate, crypto().crypto()), self.eagw).unwrap();
    }

    /// Handles what eagw sends for `dur` (or until the handshake completes, `until_keys`):
    /// STUN answers must authenticate, DTLS goes to the association, whose replies go back.
    /// Returns how many authenticated STUN answers came.
    fn run(&mut self, dur: Duration, until_keys: bool) -> usize {
        let t0 = Instant::now();
        let mut answers = 0;
        let mut buf = [0u8; 2048];
        self.sock.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        while t0.elapsed() < dur && !(until_keys && self.keys.is_some()) {
            let now = Instant::now();
            if self.dtls.next_timeout().is_some_and(|t| t <= now) {
                self.dtls.on_timeout(now);
            }
            self.flush();
            let Ok((n, from)) = self.sock.recv_from(&mut buf) else { continue };
            assert_eq!(from, self.eagw, "the browser got a datagram from elsewhere");
            self.seen.push(buf[0]);
            match buf[0] {
                0..=3 => {
                    assert!(is_success_for(&buf[..n], &self.eagw_ice.pwd, crypto().crypto()), "STUN answer that does not authenticate");
                    answers += 1;
                }
                20..=63 => {
                    if let Ok(Some(k)) = self.dtls.on_packet(&buf[..n], Instant::now()) {
                        self.tx = Some(Srtp::new(k.tx.clone()).unwrap());
                        self.rx = Some(Srtp::new(k.rx.clone()).unwrap());
                        self.keys = Some(k);
                    }
                    self.flush();
                }
                _ => panic!("media before the handshake: {:?}", &buf[..n.min(16)]),
            }
        }
        self.sock.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        answers
    }

    fn flush(&mut self) {
        while let Some(p) = self.dtls.poll_transmit() {
            self.sock.send_to(&p, self.eagw).unwrap();
        }
    }

    /// ICE nomination and the DTLS handshake (eagw the client: its ClientHello follows
    /// the nomination; eagw the server: the browser starts). `junk` goes to eagw right
    /// after the nomination, from this browser's address and from `other`: it arrives
    /// while the handshake runs.
    fn connect(&mut self, junk: &[Vec<u8>], other: &UdpSocket) {
        self.check(true);
        for p in junk {
            self.sock.send_to(p, self.eagw).unwrap();
            other.send_to(p, self.eagw).unwrap();
        }
        if self.dtls.client {
            self.dtls.start(Instant::now());
        }
        assert!(self.run(Duration::from_secs(5), true) >= 1, "no STUN success for the nomination");
        assert!(self.keys.is_some(), "DTLS handshake with eagw did not complete");
        // the server's last flight may still be on its way to eagw
        self.run(Duration::from_millis(100), false);
    }

    fn send_srtp(&mut self, seq: u16, payload: &[u8]) -> Vec<u8> {
        let p = self.tx.as_mut().unwrap().protect(&rtp(seq, 0xb0b, payload), false).unwrap().to_vec();
        self.sock.send_to(&p, self.eagw).unwrap();
        p
    }

    /// One SRTP packet from eagw, decrypted.
    fn recv_media(&mut self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = self.sock.recv_from(&mut buf).ok()?;
            assert_eq!(from, self.eagw);
            self.seen.push(buf[0]);
            if (128..=191).contains(&buf[0]) {
                return Some(self.rx.as_mut().unwrap().unprotect(&buf[..n], false).expect("SRTP from eagw").to_vec());
            }
        }
    }
}

/// One packet each way through an established call; both must arrive intact.
fn round_trip(c: &mut WebRtcCall, seq: u16) {
    let voice = format!("browser voice {seq}");
    c.browser.send_srtp(seq, voice.as_bytes());
    let mut buf = [0u8; 2048];
    let (n, from) = c.ims.recv_from(&mut buf).unwrap_or_else(|e| panic!("{}: packet {seq} to IMS lost: {e}", c.id));
    assert_eq!((&buf[..n], from), (&rtp(seq, 0xb0b, voice.as_bytes())[..], c.to_ims_side), "{}: to IMS", c.id);
    let ims_voice = format!("ims voice {seq}");
    c.ims.send_to(&rtp(seq, 0x1315, ims_voice.as_bytes()), c.to_ims_side).unwrap();
    let got = c.browser.recv_media().unwrap_or_else(|| panic!("{}: packet {seq} to the browser lost", c.id));
    assert_eq!(got, rtp(seq, 0x1315, ims_voice.as_bytes()), "{}: to the browser", c.id);
}

fn stream(e: &mut Eagw, call: &str, tag: &str) -> Value {
    let q = e.ng(&DictBuilder::new().str("command", "query").str("call-id", call).build());
    assert_eq!(s(&q, "result"), "ok", "{q:?}");
    let leg = q.get("tags").and_then(|t| t.get(tag)).unwrap_or_else(|| panic!("no tag {tag}: {q:?}"));
    leg.get("medias").and_then(Value::as_list).unwrap()[0].get("streams").and_then(Value::as_list).unwrap()[0].clone()
}

fn int(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_int).unwrap_or_else(|| panic!("no {k} in {v:?}"))
}

/// Counters of `totalstatistics`, by name.
fn counters(e: &mut Eagw, keys: &[&str]) -> Vec<i64> {
    let st = e.statistics();
    let t = st.get("totalstatistics").unwrap();
    keys.iter().map(|k| int(t, k)).collect()
}

/// Waits for the browser stream's `DTLS` phase in `query` to become `want`.
fn wait_dtls(e: &mut Eagw, call: &str, want: &str) -> Value {
    let t0 = Instant::now();
    loop {
        let st = stream(e, call, "browser");
        if s(&st, "DTLS") == want || t0.elapsed() > Duration::from_secs(5) {
            assert_eq!(s(&st, "DTLS"), want, "{st:?}");
            return st;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Datagrams a socket got, asserting every one is a 401 Binding error response.
fn only_401s(sock: &UdpSocket, expect: usize, who: &str) {
    let got = drain(sock, Duration::from_millis(150));
    assert_eq!(got.len(), expect, "{who}: {} datagrams, {expect} error responses expected", got.len());
    for (p, _) in &got {
        assert_eq!(stun_error_code(p), Some(401), "{who}: got something other than a 401: {:?}", &p[..p.len().min(20)]);
    }
}

#[test]
fn ice_credentials_flood_dtls_junk_and_forged_srtp() {
    let mut e = Eagw::start(24, "");
    let c = crypto();
    let browser_id = Identity::generate().unwrap();
    let mut call = setup_webrtc_call(&mut e, "attacked", &browser_id, &browser_id.fingerprint, "actpass");
    let eagw_addr = call.browser.eagw;
    let user = format!("{}:{BROWSER_UFRAG}", call.browser.eagw_ice.ufrag);
    let wrong_pwd = binding_request(&user, "not-the-password-0123456", true, c.crypto());
    let wrong_ufrag = binding_request(&format!("Xx{}:{BROWSER_UFRAG}", call.browser.eagw_ice.ufrag), &call.browser.eagw_ice.pwd, true, c.crypto());

    // 1. before the browser: checks with a wrong password and a wrong ufrag (both with
    // USE-CANDIDATE) get 401s, nominate nothing, and the attacker's media goes nowhere
    let attacker = peer();
    attacker.send_to(&wrong_pwd, eagw_addr).unwrap();
    attacker.send_to(&wrong_ufrag, eagw_addr).unwrap();
    only_401s(&attacker, 2, "wrong credentials");
    let st = stream(&mut e, "attacked", "browser");
    assert_eq!((int(&st, "STUN errors"), int(&st, "ICE checks")), (2, 0), "{st:?}");
    assert!(st.get("endpoint").is_none(), "an address was selected: {st:?}");
    for i in 0..10u16 {
        attacker.send_to(&rtp(i, 0xbad, b"plain injected"), eagw_addr).unwrap();
        attacker.send_to(&Srtp::new(SrtpKey::generate(Suite::AeadAes128Gcm).unwrap()).unwrap().protect(&rtp(i, 0xbad, b"forged"), false).unwrap(), eagw_addr).unwrap();
    }
    // and DTLS from an address ICE never validated: dropped unanswered
    let junk_sender = peer();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for p in dtls_junk(&mut rng, 20) {
        junk_sender.send_to(&p, eagw_addr).unwrap();
    }
    assert!(drain(&call.ims, Duration::from_millis(150)).is_empty(), "attacker media reached IMS");
    assert!(drain(&junk_sender, Duration::from_millis(50)).is_empty(), "eagw answered DTLS from an unvalidated address");
    assert_eq!(counters(&mut e, &["stunerrors", "icechecks", "srtperrors", "dtlserrors", "relayedpackets"]), vec![2, 0, 20, 20, 0]);

    // 2. the browser: a second socket of it passes a check without USE-CANDIDATE
    // (validated, not nominated), the first nominates; the handshake completes
    let alt = peer();
    alt.send_to(&binding_request(&user, &call.browser.eagw_ice.pwd, false, c.crypto()), eagw_addr).unwrap();
    call.browser.connect(&[], &junk_sender);
    let st = wait_dtls(&mut e, "attacked", "connected");
    assert_eq!(int(st.get("endpoint").unwrap(), "port"), call.browser.addr().port() as i64);
    for seq in 1..=20 {
        round_trip(&mut call, seq);
    }
    // 3. after it, wrong credentials with USE-CANDIDATE again: refused, media stays with the browser
    attacker.send_to(&wrong_pwd, eagw_addr).unwrap();
    attacker.send_to(&wrong_ufrag, eagw_addr).unwrap();
    only_401s(&attacker, 2, "wrong credentials after the handshake");
    // and a genuine check without USE-CANDIDATE (as one seen on the wire), replayed from
    // another address with USE-CANDIDATE appended after MESSAGE-INTEGRITY, where the HMAC
    // does not cover it: answered (it authenticates), but nominates nothing
    let replayer = peer();
    let mut forged = binding_request(&user, &call.browser.eagw_ice.pwd, false, c.crypto());
    forged.truncate(forged.len() - 8); // FINGERPRINT
    forged.extend_from_slice(&[0x00, 0x25, 0x00, 0x00]);
    let len = (forged.len() - 20) as u16;
    forged[2..4].copy_from_slice(&len.to_be_bytes());
    replayer.send_to(&forged, eagw_addr).unwrap();
    for seq in 21..=25 {
        round_trip(&mut call, seq);
    }
    let got = drain(&replayer, Duration::from_millis(50));
    assert!(got.len() == 1 && is_success_for(&got[0].0, &call.browser.eagw_ice.pwd, c.crypto()), "the replayer got {} datagrams", got.len());
    let st = stream(&mut e, "attacked", "browser");
    assert_eq!(int(st.get("endpoint").unwrap(), "port"), call.browser.addr().port() as i64, "USE-CANDIDATE after MESSAGE-INTEGRITY nominated");

    // 4. DTLS junk from the nominated address and from an unvalidated one: counted,
    // the association stays up and media keeps flowing
    let before = counters(&mut e, &["dtlserrors", "dtlsfailures"]);
    let junk = dtls_junk(&mut rng, 40);
    for p in &junk {
        call.browser.sock.send_to(p, eagw_addr).unwrap();
        junk_sender.send_to(p, eagw_addr).unwrap();
    }
    call.browser.run(Duration::from_millis(200), false);
    let after = counters(&mut e, &["dtlserrors", "dtlsfailures"]);
    assert_eq!(after[1], before[1], "junk failed the association");
    let from_browser_addr = after[0] - before[0] - 40;
    // the 20 that are no records fail in eagw's DTLS and are counted; records with a
    // valid header and a garbage body rtc-dtls may discard silently (RFC 6347 §4.1.2.7)
    assert!((20..=40).contains(&from_browser_addr), "junk from the nominated address: {from_browser_addr} of 40 counted");
    assert!(drain(&junk_sender, Duration::from_millis(50)).is_empty(), "eagw answered DTLS from an unvalidated address");
    let st = wait_dtls(&mut e, "attacked", "connected");
    assert_eq!(int(&st, "DTLS errors"), 20 + 40 + from_browser_addr);
    for seq in 26..=30 {
        round_trip(&mut call, seq);
    }

    // 5. SRTP with a flipped tag bit, and replays of packets already delivered: counted,
    // dropped; the stream goes on
    let srtp_before = counters(&mut e, &["srtperrors"])[0];
    let mut sent = vec![];
    for seq in 31..=40u16 {
        let p = call.browser.tx.as_mut().unwrap().protect(&rtp(seq, 0xb0b, b"tampered"), false).unwrap().to_vec();
        let mut bad = p.clone();
        let n = bad.len();
        bad[n - 1] ^= 0x01;
        call.browser.sock.send_to(&bad, eagw_addr).unwrap();
        sent.push(p);
    }
    for seq in 41..=45u16 {
        sent.push(call.browser.send_srtp(seq, b"delivered once"));
        let mut buf = [0u8; 2048];
        let (n, _) = call.ims.recv_from(&mut buf).expect("good packet after bad tags");
        assert_eq!(&buf[..n], &rtp(seq, 0xb0b, b"delivered once")[..], "a tampered packet was relayed");
    }
    for p in &sent[10..] {
        call.browser.sock.send_to(p, eagw_addr).unwrap();
    }
    assert!(drain(&call.ims, Duration::from_millis(150)).is_empty(), "a forged or replayed SRTP packet was relayed");
    assert_eq!(counters(&mut e, &["srtperrors"])[0] - srtp_before, 15);
    for seq in 46..=50 {
        round_trip(&mut call, seq);
    }

    // 6. a second call completes ICE and DTLS; then 5,000 checks with wrong credentials
    // from 50 unknown ports, half at each call's socket, while the second call relays
    let id2 = Identity::generate().unwrap();
    // (its handshake with junk in between, from its address and from an unvalidated one:
    // counted, and the handshake completes)
    let mut bystander = setup_webrtc_call(&mut e, "bystander", &id2, &id2.fingerprint, "actpass");
    let dtls_errors = counters(&mut e, &["dtlserrors"])[0];
    bystander.browser.connect(&non_records(&mut rng, 10), &junk_sender);
    let st = wait_dtls(&mut e, "bystander", "connected");
    assert_eq!(int(&st, "DTLS errors"), 20, "{st:?}");
    assert_eq!(counters(&mut e, &["dtlserrors", "dtlsfailures"]), vec![dtls_errors + 20, 0]);
    assert!(drain(&junk_sender, Duration::from_millis(50)).is_empty(), "eagw answered DTLS from an unvalidated address");
    let before = counters(&mut e, &["stunerrors", "icechecks", "relayedpackets"]);
    let targets = [eagw_addr, bystander.browser.eagw];
    let flood_checks = [wrong_pwd.clone(), wrong_ufrag.clone(), binding_request(&format!("{}:{BROWSER_UFRAG}", bystander.browser.eagw_ice.ufrag), "not-the-password-0123456", true, c.crypto())];
    let flood = std::thread::spawn(move || {
        let socks: Vec<UdpSocket> = (0..50).map(|_| peer()).collect();
        let mut answered = 0;
        // 25 rounds of 200 checks (what eagw's sockets hold with the kernel's default
        // receive buffer): each socket sends four, then reads its four answers
        for _round in 0..25 {
            for (i, s) in socks.iter().enumerate() {
                for j in 0..4 {
                    s.send_to(&flood_checks[(i + j) % 3], targets[i % 2]).unwrap();
                }
            }
            // (the ports are ephemeral ones: a datagram from another program on this
            // host that used one before is not eagw's and is skipped)
            for s in &socks {
                let mut got = 0;
                let mut buf = [0u8; 2048];
                while got < 4 {
                    let Ok((n, from)) = s.recv_from(&mut buf) else { break };
                    if targets.contains(&from) {
                        assert_eq!(stun_error_code(&buf[..n]), Some(401), "flood: got something other than a 401");
                        got += 1;
                    }
                }
                answered += got;
            }
        }
        for s in &socks {
            assert!(drain(s, Duration::from_millis(10)).iter().all(|(_, from)| !targets.contains(from)), "flood: more than one answer per check");
        }
        answered
    });
    // the bystander relays for as long as the flood lasts, and at least 300 round trips
    let t0 = Instant::now();
    let mut trips = 0;
    while trips < 300 || (!flood.is_finished() && trips < 20_000) {
        trips += 1;
        round_trip(&mut bystander, trips);
    }
    let answered = flood.join().unwrap();
    assert_eq!(answered, 5000, "every check of the flood answered with a 401");
    let after = counters(&mut e, &["stunerrors", "icechecks", "relayedpackets"]);
    assert_eq!(after[0] - before[0], 5000, "stunerrors");
    assert_eq!(after[1], before[1], "a check of the flood passed");
    assert_eq!(after[2] - before[2], 2 * trips as i64, "relayedpackets during the flood");
    println!("flood of 5,000 checks beside {trips} round trips: {:?}", t0.elapsed());
    // both calls are unharmed
    for seq in 51..=55 {
        round_trip(&mut call, seq);
    }
    let st = stream(&mut e, "bystander", "browser");
    assert_eq!(s(&st, "DTLS"), "connected");
    assert_eq!(int(st.get("endpoint").unwrap(), "port"), bystander.browser.addr().port() as i64);

    // 7. what eagw sent: to the attackers only 401s (checked above), to the validated but
    // never nominated socket only its STUN answer, to the browsers STUN, DTLS and media
    let alt_got = drain(&alt, Duration::from_millis(50));
    assert_eq!(alt_got.len(), 1, "the validated, not nominated address got {} datagrams", alt_got.len());
    assert!(is_success_for(&alt_got[0].0, &call.browser.eagw_ice.pwd, c.crypto()));
    assert!(drain(&attacker, Duration::from_millis(50)).is_empty());
    assert!(drain(&junk_sender, Duration::from_millis(50)).is_empty());
    assert!(drain(&replayer, Duration::from_millis(50)).is_empty());
    let st = stream(&mut e, "attacked", "browser");
    assert_eq!(int(&st, "ICE checks"), 3, "the nomination, the alternative socket's check, the replay: {st:?}");
    assert_eq!(int(&st, "STUN errors"), 2 + 2 + 2500, "{st:?}");
    assert!(e.alive());
}

#[test]
fn wrong_certificate_fails_the_handshake_and_nothing_flows() {
    let mut e = Eagw::start(25, "");
    let announced = Identity::generate().unwrap();
    let presented = Identity::generate().unwrap();
    // eagw as the DTLS client (the browser offers actpass), then as the server (active)
    for (n, (id, setup)) in [("wrong-cert-client", "actpass"), ("wrong-cert-server", "active")].into_iter().enumerate() {
        let mut call = setup_webrtc_call(&mut e, id, &presented, &announced.fingerprint, setup);
        call.browser.check(true);
        if call.browser.dtls.client {
            call.browser.dtls.start(Instant::now());
        }
        call.browser.run(Duration::from_millis(500), true);
        let st = wait_dtls(&mut e, id, "failed");
        assert_eq!(int(st.get("endpoint").unwrap(), "port"), call.browser.addr().port() as i64, "ICE itself succeeded");
        assert_eq!(counters(&mut e, &["dtlsfailures", "dtlshandshakes"]), vec![n as i64 + 1, 0]);
        // no keys on either side: what the browser sends is not relayed, and IMS media
        // is not sent to the browser (in clear or otherwise)
        let mut tx = Srtp::new(SrtpKey::generate(Suite::AeadAes128Gcm).unwrap()).unwrap();
        for seq in 1..=20u16 {
            let p = tx.protect(&rtp(seq, 0xb0b, b"no keys"), false).unwrap();
            call.browser.sock.send_to(&p, call.browser.eagw).unwrap();
            call.browser.sock.send_to(&rtp(seq, 0xb0b, b"in clear"), call.browser.eagw).unwrap();
            call.ims.send_to(&rtp(seq, 0x1315, b"ims voice"), call.to_ims_side).unwrap();
        }
        assert!(drain(&call.ims, Duration::from_millis(200)).is_empty(), "media from the browser relayed without DTLS");
        let got = drain(&call.browser.sock, Duration::from_millis(100));
        assert!(got.iter().all(|(p, _)| !(128..=191).contains(&p[0])), "media sent to the browser without DTLS");
        assert!(call.browser.keys.is_none());
        assert_eq!(counters(&mut e, &["relayedpackets"])[0], 0);
        let st = stream(&mut e, id, "browser");
        assert_eq!(s(&st, "DTLS"), "failed");
        assert_eq!(int(st.get("stats").unwrap(), "errors"), 40, "{id}: browser {} eagw {}", call.browser.addr(), call.browser.eagw);
    }
    assert_eq!(counters(&mut e, &["srtperrors"])[0], 80);
    assert!(e.alive());
}
