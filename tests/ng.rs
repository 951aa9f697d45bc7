//! The ng control protocol over UDP, TCP-ng and HTTP against the real binary: commands,
//! cookies and retransmissions, flags in both encodings, load limit, and bad input.

mod common;
use common::*;
use eagw::control::bencode::{self, DictBuilder, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn cmd(c: &str) -> DictBuilder {
    DictBuilder::new().str("command", c)
}

#[test]
fn ping_over_every_transport() {
    let e = Eagw::start(10, "");
    assert_eq!(e.raw_ng(b"5323_1 d7:command4:pinge").unwrap(), b"5323_1 d6:result4:ponge");
    assert_eq!(s(&e.ng_tcp(&cmd("ping").build()), "result"), "pong");
    assert_eq!(e.http("GET", "/ping", "text/plain", b""), (200, b"pong\n".to_vec()));
    let (st, body) = e.http("POST", "/ng-plain", "application/json", br#"{"command":"ping"}"#);
    assert_eq!((st, body.as_slice()), (200, br#"{"result":"pong"}"#.as_slice()));
    let (st, body) = e.http("POST", "/ng-plain", "application/x-rtpengine-ng", b"d7:command4:pinge");
    assert_eq!((st, body.as_slice()), (200, b"d6:result4:ponge".as_slice()));
    let (st, body) = e.http("POST", "/ng", "application/x-rtpengine-ng", b"abc d7:command4:pinge");
    assert_eq!((st, body.as_slice()), (200, b"abc d6:result4:ponge".as_slice()));
    // JSON with a cookie over UDP is answered in JSON
    assert_eq!(e.raw_ng(br#"j1 {"command":"ping"}"#).unwrap(), br#"j1 {"result":"pong"}"#);
    let (st, body) = e.http("GET", "/metrics", "text/plain", b"");
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&body).contains("eagw_packets_relayed_total"));
}

#[test]
fn offer_answer_query_list_delete_over_http_json_and_tcp() {
    let mut e = Eagw::start(11, "");
    // offer over HTTP JSON, answer over TCP-ng, query and delete over UDP
    let body = serde_json::json!({
        "command": "offer", "call-id": "http-1", "from-tag": "A", "sdp": sdp(5000, ""),
        "replace": ["origin"], "flags": ["trust-address"]
    });
    let (st, r) = e.http("POST", "/ng-plain", "application/json", body.to_string().as_bytes());
    assert_eq!(st, 200);
    let r: serde_json::Value = serde_json::from_slice(&r).unwrap();
    assert_eq!(r["result"], "ok", "{r}");
    let offer_sdp = r["sdp"].as_str().unwrap();
    assert!(media_addr(offer_sdp).port() >= e.port_min);
    let r = e.ng_tcp(&answer("http-1", "A", "B", &sdp(5010, "")).build());
    assert_eq!(s(&r, "result"), "ok");
    let r = e.ng(&cmd("list").build());
    assert_eq!(r.get("calls").and_then(Value::as_list).map(|l| l.len()), Some(1));
    let q = e.ng(&cmd("query").str("call-id", "http-1").build());
    assert_eq!(s(&q, "result"), "ok");
    for tag in ["A", "B"] {
        let leg = q.get("tags").and_then(|t| t.get(tag)).unwrap();
        assert_eq!(s(leg, "tag"), tag);
        let m = &leg.get("medias").and_then(Value::as_list).unwrap()[0];
        assert_eq!(s(m, "protocol"), "RTP/AVP");
        let streams = m.get("streams").and_then(Value::as_list).unwrap();
        assert_eq!(streams.len(), 2, "RTP and RTCP streams");
        assert!(streams[0].get("stats").and_then(|x| x.get("packets")).is_some());
    }
    assert_eq!(s(q.get("tags").and_then(|t| t.get("A")).unwrap(), "in dialogue with"), "B");
    assert!(q.get("totals").and_then(|t| t.get("RTCP")).is_some());
    let r = e.ng(&cmd("delete").str("call-id", "http-1").str("from-tag", "A").build());
    assert_eq!(s(&r, "result"), "ok");
    // deleting again: ok with a warning (rtpengine's default), an error with `fatal`
    let r = e.ng(&cmd("delete").str("call-id", "http-1").str("from-tag", "A").build());
    assert_eq!(s(&r, "result"), "ok");
    assert!(s(&r, "warning").contains("not found"));
    let r = e.ng(
        &cmd("delete").str("call-id", "http-1").str("from-tag", "A").val("flags", Value::List(vec![Value::str("fatal")])).build(),
    );
    assert_eq!(s(&r, "result"), "error");
}

#[test]
fn retransmitted_request_gets_the_same_reply_and_is_done_once() {
    let mut e = Eagw::start(12, "");
    let mut msg = b"retx-1 ".to_vec();
    bencode::encode(&offer("retx", "A", &sdp(5000, "")).build(), &mut msg);
    let r1 = e.raw_ng(&msg).unwrap();
    let r2 = e.raw_ng(&msg).unwrap();
    assert_eq!(r1, r2, "a retransmission is answered from the cache");
    // a different cookie for the same offer is a new request (the same call, same ports)
    let st = e.statistics();
    let t = st.get("totalstatistics").unwrap();
    assert_eq!(t.get("managedsessions").and_then(Value::as_int), Some(1));
    let ctl = st.get("controlstatistics").unwrap();
    assert_eq!(ctl.get("offer").and_then(Value::as_int), Some(1), "second copy not processed");
    assert_eq!(ctl.get("retransmissions").and_then(Value::as_int), Some(1));
    // many copies sent back to back while the first is in flight: all answered alike
    let mut msg = b"retx-2 ".to_vec();
    bencode::encode(&offer("retx-b", "A", &sdp(5002, "")).build(), &mut msg);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    for _ in 0..5 {
        sock.send_to(&msg, e.ng).unwrap();
    }
    let mut replies = vec![];
    let mut buf = vec![0u8; 65536];
    while let Ok((n, _)) = sock.recv_from(&mut buf) {
        replies.push(buf[..n].to_vec());
    }
    assert!(!replies.is_empty());
    assert!(replies.iter().all(|r| r == &replies[0]));
    let ctl = e.statistics().get("controlstatistics").unwrap().clone();
    assert_eq!(ctl.get("offer").and_then(Value::as_int), Some(2));
}

#[test]
fn flags_in_rtpp_flags_and_lenient_spellings() {
    let mut e = Eagw::start(13, "");
    let r = e.ng(
        &DictBuilder::new()
            .str("command", "offer")
            .str("call_id", "rf-1")
            .str("From Tag", "A")
            .str("sdp", sdp(5000, "a=rtcp-mux\r\na=ice-ufrag:x\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"))
            .str("rtpp-flags", "replace-origin direction=access direction=core rtcp-mux=[require] ICE=remove codec=[strip=[PCMA]] some-unknown-flag")
            .build(),
    );
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let out = s(&r, "sdp");
    assert!(!out.contains("ice-ufrag") && !out.contains("candidate"));
    assert!(out.contains("a=rtcp-mux"));
    let m = eagw::sdp::parse(&out).unwrap().media.remove(0);
    assert_eq!(m.formats, vec!["0", "101"], "PCMA stripped");
    assert_eq!(m.attr("rtcp").unwrap().split_whitespace().next().unwrap(), m.port.to_string(), "rtcp-mux require: no RTCP port");
    // the structured encoding of the same, with a flag not supported yet: ok + warning
    let r = e.ng(
        &offer("rf-2", "A", &sdp(5002, ""))
            .val("flags", Value::List(vec![Value::str("codec-strip-PCMU"), Value::str("pierce-NAT")]))
            .val("codec", DictBuilder::new().val("mask", Value::List(vec![Value::str("telephone-event")])).build())
            .str("transport protocol", "RTP/AVPF")
            .build(),
    );
    assert_eq!(s(&r, "result"), "ok");
    assert!(s(&r, "warning").contains("pierce-NAT"), "{r:?}");
    let m = eagw::sdp::parse(&s(&r, "sdp")).unwrap().media.remove(0);
    assert_eq!(m.formats, vec!["8"]);
    assert_eq!(m.proto, "RTP/AVPF");
}

#[test]
fn load_limit() {
    let mut e = Eagw::start(14, "[general]\nmax_sessions = 2\n");
    for i in 0..2 {
        assert_eq!(s(&e.ng(&offer(&format!("ll-{i}"), "A", &sdp(5000, "")).build()), "result"), "ok");
    }
    let r = e.ng(&offer("ll-2", "A", &sdp(5000, "")).build());
    assert_eq!(s(&r, "result"), "load limit");
    assert_eq!(s(&r, "message"), "Parallel session limit reached");
    let r = e.ng(&DictBuilder::new().str("command", "offer").str("call-id", "ll-3").str("from-tag", "A").str("sdp", sdp(5000, "")).build());
    assert_eq!(s(&r, "result"), "error", "without supports: load limit, an error");
    // an existing call is not limited, and freeing one makes room
    assert_eq!(s(&e.ng(&offer("ll-0", "A", &sdp(5000, "")).build()), "result"), "ok");
    e.ng(&cmd("delete").str("call-id", "ll-0").str("from-tag", "A").build());
    assert_eq!(s(&e.ng(&offer("ll-4", "A", &sdp(5000, "")).build()), "result"), "ok");
}

fn reason(v: &Value) -> String {
    assert_eq!(s(v, "result"), "error", "{v:?}");
    s(v, "error-reason")
}

#[test]
fn bad_input_gets_clear_errors_and_harms_nobody() {
    let mut e = Eagw::start(15, "");
    let live = setup_call(&mut e, "live", |d| d);
    let dec = |b: Vec<u8>| {
        let (c, body) = split_once(&b, b' ').unwrap();
        (c.to_vec(), bencode::decode_all(body).unwrap())
    };
    // malformed bencode: an error with the cookie
    let (c, v) = dec(e.raw_ng(b"bad1 d7:command4:pin").unwrap());
    assert_eq!(c, b"bad1");
    assert!(reason(&v).contains("bencode"));
    let (_, v) = dec(e.raw_ng(b"bad2 i42e").unwrap());
    assert!(reason(&v).contains("dictionary"));
    let (_, v) = dec(e.raw_ng(b"bad3 d7:command99999999:xe").unwrap());
    assert!(reason(&v).contains("bencode"));
    // no cookie at all: nothing to answer to; dropped
    assert!(e.raw_ng(b"d7:command4:pinge").is_none());
    // unknown command, missing keys, wrong types
    assert!(reason(&e.ng(&cmd("frobnicate").build())).contains("Unrecognized command"));
    assert!(reason(&DictBuilder::new().str("call-id", "x").build().pipe(|v| e.ng(&v))).contains("No command"));
    assert!(reason(&e.ng(&cmd("offer").str("from-tag", "A").str("sdp", sdp(1, "")).build())).contains("call-id"));
    assert!(reason(&e.ng(&cmd("offer").str("call-id", "x").str("sdp", sdp(1, "")).build())).contains("from-tag"));
    assert!(reason(&e.ng(&cmd("offer").str("call-id", "x").str("from-tag", "A").build())).contains("SDP"));
    assert!(reason(&e.ng(&cmd("answer").str("call-id", "x").str("from-tag", "A").str("sdp", sdp(1, "")).build())).contains("to-tag"));
    assert!(reason(&e.ng(&answer("nope", "A", "B", &sdp(1, "")).build())).contains("Unknown call-id"));
    assert!(reason(&e.ng(&cmd("offer").val("call-id", Value::List(vec![])).build())).contains("call-id"));
    assert!(reason(&e.ng(&cmd("query").str("call-id", "nope").build())).contains("Unknown call-id"));
    // SDP garbage
    for junk in ["", "hello", "v=0\r\nm=audio x RTP/AVP 0\r\n", "v=0\r\nm=audio 70000 RTP/AVP 0\r\n"] {
        let r = e.ng(&offer("garbage", "A", junk).build());
        assert!(reason(&r).contains("SDP"), "{junk:?}: {r:?}");
    }
    let r = e.ng(&offer("garbage", "A", &sdp(5000, "")).val("sdp", Value::bytes(vec![0xff, 0xfe])).build());
    assert!(reason(&r).contains("UTF-8"));
    let q = e.ng(&cmd("query").str("call-id", "garbage").build());
    assert_eq!(s(&q, "result"), "error", "a failed offer leaves no call behind");
    // HTTP errors
    assert_eq!(e.http("GET", "/nope", "text/plain", b"").0, 404);
    assert_eq!(e.http("GET", "/ng", "text/plain", b"").0, 405);
    assert_eq!(e.http("POST", "/ng", "text/plain", b"nocookie").0, 400);
    let (st, body) = e.http("POST", "/ng-plain", "application/json", b"{not json");
    assert_eq!(st, 200);
    assert!(String::from_utf8_lossy(&body).contains("JSON"));
    let mut t = TcpStream::connect(e.http).unwrap();
    t.write_all(b"GARBAGE\x00\x01 / HTTP/9\r\n\r\n").unwrap();
    let mut out = vec![];
    t.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = t.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
    // a TCP-ng stream that is not ng: an error, then the connection closes
    let mut t = TcpStream::connect(e.ng).unwrap();
    t.write_all(b"\x01\x02\x03 garbage\r\n").unwrap();
    let mut out = vec![];
    t.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = t.read_to_end(&mut out);
    assert!(String::from_utf8_lossy(&out).contains("error"));

    // the live call is unharmed
    live.a.send_to(&rtp(1, 1, b"still here"), live.to_a_side).unwrap();
    assert_eq!(drain(&live.b, Duration::from_millis(200)).len(), 1);
    assert_eq!(s(&e.ng(&cmd("query").str("call-id", "live").build()), "result"), "ok");
    let ctl = e.statistics().get("controlstatistics").unwrap().clone();
    assert!(ctl.get("malformed").and_then(Value::as_int).unwrap() >= 4);
    assert!(e.alive());
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl Pipe for Value {}

/// An SDP with `n` audio sections, padded with attributes to about `target` bytes.
fn big_sdp(n: usize, target: usize) -> String {
    let mut s = String::from("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n");
    let per = target / n;
    for i in 0..n {
        let start = s.len();
        s.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 6000 + 2 * i));
        while s.len() - start + 30 < per {
            s.push_str("a=x-padding:0123456789abcdef\r\n");
        }
    }
    s
}

#[test]
fn a_reply_too_big_for_udp_is_an_error_there_and_fine_over_tcp_and_http() {
    let mut e = Eagw::start(16, "");
    let sdp = big_sdp(30, 64_000);
    let mut msg = b"big-1 ".to_vec();
    bencode::encode(&offer("big-udp", "A", &sdp).val("rtcp-mux", Value::List(vec![Value::str("offer")])).build(), &mut msg);
    assert!(msg.len() < 65_507, "the request itself fits a datagram ({} bytes)", msg.len());
    let reply = e.raw_ng(&msg).expect("an answer, not silence");
    assert!(reply.len() < 65_507);
    let (_, v) = split_once(&reply, b' ').unwrap();
    let v = bencode::decode_all(v).unwrap();
    assert!(reason(&v).contains("does not fit one UDP datagram"), "{v:?}");
    assert_eq!(s(&e.ng(&cmd("query").str("call-id", "big-udp").build()), "result"), "error", "refused call removed");
    assert_eq!(
        e.statistics().get("currentstatistics").and_then(|c| c.get("portsinuse")).and_then(Value::as_int),
        Some(0),
        "and its ports returned"
    );
    // the same over TCP-ng and HTTP works
    let r = e.ng_tcp(&offer("big-tcp", "A", &sdp).val("rtcp-mux", Value::List(vec![Value::str("offer")])).build());
    assert_eq!(s(&r, "result"), "ok");
    assert!(s(&r, "sdp").len() > 65_000);
    let mut body = vec![];
    bencode::encode(&offer("big-http", "A", &sdp).val("rtcp-mux", Value::List(vec![Value::str("offer")])).build(), &mut body);
    let (st, r) = e.http("POST", "/ng-plain", "application/x-rtpengine-ng", &body);
    assert_eq!(st, 200);
    assert_eq!(s(&bencode::decode_all(&r).unwrap(), "result"), "ok");
}

#[test]
fn tcp_ng_framing_two_messages_in_one_write_and_one_split() {
    let e = Eagw::start(17, "");
    let mut t = TcpStream::connect(e.ng).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    t.write_all(b"a1 d7:command4:pingea2 d7:command4:pinge").unwrap();
    t.write_all(b"a3 d7:comm").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    t.write_all(b"and4:pinge").unwrap();
    let want = b"a1 d6:result4:pongea2 d6:result4:pongea3 d6:result4:ponge";
    let mut got = vec![];
    let mut buf = [0u8; 1024];
    while got.len() < want.len() {
        let n = t.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, want);
}

#[test]
fn check_config_reports_line_numbers() {
    let dir = std::env::temp_dir().join(format!("eagw-cc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[general]\nworkers = 2\n\n[media]\nport_min = 50000\nport_max = 40000\n[[interface]]\nname = \"a\"\naddress = \"127.0.0.1\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eagw")).args(["check-config", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 5") && err.contains("port_min"), "{err}");
    std::fs::write(&bad, "[control]\nng_udp = [\"127.0.0.1:2223\"]\nhttp = 5\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eagw")).args(["check-config", bad.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    for good in ["config/default.toml", "config/example-two-interfaces.toml"] {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/").to_string() + good;
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eagw")).args(["check-config", &p]).output().unwrap();
        assert!(out.status.success(), "{good}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn parallel_forks_by_via_branch_one_cancelled_one_answered() {
    let mut e = Eagw::start(18, "");
    let a = peer();
    let b2 = peer();
    let ap = a.local_addr().unwrap().port();
    let mut to_b = vec![];
    for br in ["z9hG4bK-1", "z9hG4bK-2"] {
        let r = e.ng(&offer("fork", "A", &sdp(ap, "")).str("via-branch", br).build());
        assert_eq!(s(&r, "result"), "ok");
        to_b.push(media_addr(&s(&r, "sdp")));
    }
    assert_ne!(to_b[0], to_b[1], "each branch gets its own ports");
    // branch 1 fails: Kamailio deletes it by via-branch; the call stays for branch 2
    let r = e.ng(&cmd("delete").str("call-id", "fork").str("from-tag", "A").str("via-branch", "z9hG4bK-1").build());
    assert_eq!(s(&r, "result"), "ok");
    assert_eq!(s(&e.ng(&cmd("query").str("call-id", "fork").build()), "result"), "ok");
    let r = e.ng(&answer("fork", "A", "B2", &sdp(b2.local_addr().unwrap().port(), "")).str("via-branch", "z9hG4bK-2").build());
    assert_eq!(s(&r, "result"), "ok");
    let to_a = media_addr(&s(&r, "sdp"));
    a.send_to(&rtp(1, 1, b"to branch 2"), to_a).unwrap();
    let got = drain(&b2, Duration::from_millis(200));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, to_b[1], "media leaves from branch 2's port");
    b2.send_to(&rtp(1, 2, b"from branch 2"), to_b[1]).unwrap();
    assert_eq!(drain(&a, Duration::from_millis(200)).len(), 1);
    // branch 1's port no longer relays anything
    b2.send_to(&rtp(2, 2, b"x"), to_b[0]).unwrap();
    assert!(drain(&a, Duration::from_millis(100)).is_empty());
    let q = e.ng(&cmd("query").str("call-id", "fork").build());
    assert_eq!(s(q.get("tags").and_then(|t| t.get("B2")).unwrap(), "via-branch"), "z9hG4bK-2");
}

#[test]
fn sigterm_stops_cleanly_and_frees_the_ports() {
    let mut e = Eagw::start(19, "");
    let c = setup_call(&mut e, "bye", |d| d);
    let st = e.terminate().expect("eagw exits on SIGTERM");
    assert!(st.success(), "exit status {st}");
    assert!(e.log_text().contains("SIGTERM: shutting down"), "{}", e.log_text());
    std::net::UdpSocket::bind(c.to_a_side).expect("media port released");
}

/// `ICE=force-relay` (as a dictionary key and in `rtpp-flags`): eagw's candidate is written
/// `typ relay` with `raddr`/`rport`, for the same transport address as `c=`/`m=`; no
/// warning any more.
#[test]
fn ice_force_relay_writes_a_relay_candidate() {
    let mut e = Eagw::start(56, "");
    // an IMS offer towards a browser
    let r = e.ng(&offer("fr-1", "ims", &sdp(5000, "")).str("ICE", "force-relay").str("transport-protocol", "UDP/TLS/RTP/SAVPF").build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    assert!(r.get("warning").is_none(), "{r:?}");
    let out = s(&r, "sdp");
    let at = media_addr(&out);
    let cands: Vec<String> = out.lines().filter_map(|l| l.strip_prefix("a=candidate:")).map(str::to_string).collect();
    assert!(!cands.is_empty(), "{out}");
    let want = format!("3 1 UDP {} {} {} typ relay raddr {} rport {}", (65535 << 8) | 255, at.ip(), at.port(), at.ip(), at.port());
    assert_eq!(cands[0], want, "{out}");
    assert!(cands.iter().all(|c| c.contains(" typ relay ")) && !out.contains("typ host"), "{out}");
    assert!(out.contains("a=ice-ufrag:") && out.contains("a=fingerprint:"), "{out}");
    // a browser's offer, answered towards it with force-relay in rtpp-flags
    let browser = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2122260223 192.0.2.33 53000 typ host generation 0\r\na=ice-ufrag:Brws\r\na=ice-pwd:browserpassword012345678\r\n\
a=fingerprint:sha-256 5C:1F:2E:4A:9B:0D:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n";
    let r = e.ng(&offer("fr-2", "web", browser).str("rtpp-flags", "ICE=remove DTLS=off rtcp-mux-demux").str("transport-protocol", "RTP/AVP").build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    let r = e.ng(&answer("fr-2", "web", "ims", &sdp(5002, "")).str("rtpp-flags", "ICE=force-relay rtcp-mux-require").str("transport-protocol", "UDP/TLS/RTP/SAVPF").build());
    assert_eq!(s(&r, "result"), "ok", "{r:?}");
    assert!(r.get("warning").is_none(), "{r:?}");
    let out = s(&r, "sdp");
    let at = media_addr(&out);
    let cands: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("a=candidate:")).collect();
    assert_eq!(cands, vec![format!("3 1 UDP {} {} {} typ relay raddr {} rport {}", (65535 << 8) | 255, at.ip(), at.port(), at.ip(), at.port())], "{out}");
    assert!(!out.contains("192.0.2.33"), "the browser's own candidate is not echoed back: {out}");
}
