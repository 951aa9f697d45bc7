//! The relay against plain loopback sockets: packets intact both ways, counters, RTCP,
//! junk, injection and bleed, timeouts, port return. Each test starts its own `eagw`.

mod common;
use common::*;
use eagw::control::bencode::{DictBuilder, Value};
use std::net::UdpSocket;
use std::time::Duration;

fn payload(i: u16, tag: u8) -> Vec<u8> {
    (0..160).map(|k| (k as u16 ^ i) as u8 ^ tag).collect()
}

#[test]
fn rtp_both_ways_intact_and_counted_in_delete() {
    let mut e = Eagw::start(0, "");
    let c = setup_call(&mut e, "relay-1", |d| d);
    let mut sent_a = vec![];
    for i in 0..50u16 {
        let p = rtp(i, 0xaaaa, &payload(i, 1));
        c.a.send_to(&p, c.to_a_side).unwrap();
        sent_a.push(p);
    }
    let got_b = drain(&c.b, Duration::from_millis(300));
    assert_eq!(got_b.len(), 50, "B got every packet A sent");
    for ((p, from), sent) in got_b.iter().zip(&sent_a) {
        assert_eq!(p, sent, "packet arrives byte for byte");
        assert_eq!(*from, c.to_b_side, "B hears eagw from the port it sends to (symmetric RTP)");
    }
    let mut sent_b = vec![];
    for i in 0..30u16 {
        let p = rtp(i, 0xbbbb, &payload(i, 2));
        c.b.send_to(&p, c.to_b_side).unwrap();
        sent_b.push(p);
    }
    let got_a = drain(&c.a, Duration::from_millis(300));
    assert_eq!(got_a.iter().map(|x| x.0.clone()).collect::<Vec<_>>(), sent_b);
    assert!(got_a.iter().all(|(_, f)| *f == c.to_a_side));

    let r = e.ng(&DictBuilder::new().str("command", "delete").str("call-id", "relay-1").str("from-tag", "tag-a").build());
    assert_eq!(s(&r, "result"), "ok");
    let a = stream_stats(&r, "tag-a");
    let b = stream_stats(&r, "tag-b");
    assert_eq!(a[0], (c.to_a_side.port() as i64, 50, 50 * 172, 0), "A-side RTP stream stats");
    assert_eq!(b[0], (c.to_b_side.port() as i64, 30, 30 * 172, 0), "B-side RTP stream stats");
    assert_eq!(totals(&r, "RTP", "packets"), 80);
    assert_eq!(totals(&r, "RTP", "bytes"), 80 * 172);
    assert_eq!(totals(&r, "RTCP", "packets"), 0);
    // ports are back in the pool and the call is gone
    let q = e.ng(&DictBuilder::new().str("command", "query").str("call-id", "relay-1").build());
    assert_eq!(s(&q, "result"), "error");
    let cur = e.statistics();
    assert_eq!(cur.get("currentstatistics").and_then(|c| c.get("portsinuse")).and_then(Value::as_int), Some(0));
}

#[test]
fn rtcp_on_its_own_port_and_muxed() {
    let mut e = Eagw::start(1, "");
    // A offers rtcp-mux; `rtcp-mux: demux` gives B plain RTCP on a separate port
    let a = peer();
    let b = peer();
    let b_rtcp = peer();
    let ap = a.local_addr().unwrap().port();
    let r = e.ng(
        &offer("rtcp-1", "tag-a", &sdp(ap, "a=rtcp-mux\r\n"))
            .val("rtcp-mux", Value::List(vec![Value::str("demux")]))
            .build(),
    );
    let offer_sdp = s(&r, "sdp");
    assert!(!offer_sdp.contains("a=rtcp-mux"), "demux: B is not offered rtcp-mux");
    let to_b_side = media_addr(&offer_sdp);
    let rtcp_line = offer_sdp.lines().find(|l| l.starts_with("a=rtcp:")).unwrap();
    let to_b_rtcp: u16 = rtcp_line[7..].split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(to_b_rtcp, to_b_side.port() + 1);
    let bp = b.local_addr().unwrap().port();
    let b_rtcp_port = b_rtcp.local_addr().unwrap().port();
    let r = e.ng(
        &answer("rtcp-1", "tag-a", "tag-b", &sdp(bp, &format!("a=rtcp:{b_rtcp_port}\r\n")))
            .val("rtcp-mux", Value::List(vec![Value::str("demux")]))
            .build(),
    );
    let ans = s(&r, "sdp");
    assert!(ans.contains("a=rtcp-mux"), "A's offered rtcp-mux is accepted: {ans}");
    let to_a_side = media_addr(&ans);

    // A muxes RTP and RTCP on one port; B gets RTP on its RTP port, RTCP on its RTCP port
    a.send_to(&rtp(1, 1, &[1; 20]), to_a_side).unwrap();
    a.send_to(&rtcp_rr(1), to_a_side).unwrap();
    let got = drain(&b, Duration::from_millis(200));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, rtp(1, 1, &[1; 20]));
    let got = drain(&b_rtcp, Duration::from_millis(200));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, rtcp_rr(1));
    assert_eq!(got[0].1.port(), to_b_rtcp, "RTCP leaves from eagw's RTCP port");

    // B's RTCP from its RTCP socket reaches A muxed on A's RTP port
    b.send_to(&rtp(1, 2, &[2; 20]), to_b_side).unwrap();
    b_rtcp.send_to(&rtcp_rr(2), (to_b_side.ip(), to_b_rtcp)).unwrap();
    let got = drain(&a, Duration::from_millis(200));
    let mut pkts: Vec<Vec<u8>> = got.iter().map(|g| g.0.clone()).collect();
    pkts.sort();
    let mut want = vec![rtp(1, 2, &[2; 20]), rtcp_rr(2)];
    want.sort();
    assert_eq!(pkts, want);
    assert!(got.iter().all(|g| g.1 == to_a_side));

    let r = e.ng(&DictBuilder::new().str("command", "query").str("call-id", "rtcp-1").build());
    assert_eq!(totals(&r, "RTP", "packets"), 2);
    assert_eq!(totals(&r, "RTCP", "packets"), 2);
}

#[test]
fn junk_is_never_relayed_and_the_call_next_door_is_unharmed() {
    // a flood is what receive buffers are for: an operator sizes them (config socket_rcvbuf)
    let mut e = Eagw::start(2, "[media]\nsocket_rcvbuf = 4194304\n");
    let victim = setup_call(&mut e, "junk-victim", |d| d);
    let other = setup_call(&mut e, "junk-other", |d| d);
    let attacker = peer();
    let mut x: u32 = 12345;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for i in 0..3000u32 {
        let len = (rnd() % 300) as usize;
        let mut junk: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        match i % 4 {
            0 => junk.insert(0, 0x00), // STUN-like first byte
            1 => junk.insert(0, 0x16), // DTLS-like
            2 => junk = vec![0x80, 0x00, 0x00], // truncated RTP
            _ => {}
        }
        if !junk.is_empty() && junk[0] & 0xc0 == 0x80 {
            junk[0] = 0x40; // not version 2
        }
        // junk from the victim's own (latched-to-be) address and from a stranger
        victim.a.send_to(&junk, victim.to_a_side).unwrap();
        attacker.send_to(&junk, victim.to_a_side).unwrap();
        attacker.send_to(&junk, victim.to_b_side).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
        if i % 30 == 0 {
            let n = (i / 30) as u16;
            other.a.send_to(&rtp(n, 7, &payload(n, 3)), other.to_a_side).unwrap();
        }
    }
    let got = drain(&other.b, Duration::from_millis(300));
    assert_eq!(got.len(), 100, "the neighbouring call lost nothing");
    assert!(drain(&victim.b, Duration::from_millis(200)).is_empty(), "junk was relayed");
    assert!(drain(&victim.a, Duration::from_millis(50)).is_empty(), "junk was relayed");
    // the victim call still works afterwards
    victim.a.send_to(&rtp(1, 9, &[9; 40]), victim.to_a_side).unwrap();
    let got = drain(&victim.b, Duration::from_millis(200));
    assert_eq!(got.len(), 1);
    let r = e.ng(&DictBuilder::new().str("command", "query").str("call-id", "junk-victim").build());
    let a = stream_stats(&r, "tag-a");
    assert_eq!(a[0].1, 1, "one good packet counted");
    assert_eq!(a[0].3, 6000, "junk counted as errors on the stream");
    assert_eq!(e.total_stat("junkpackets"), 9000);
    assert!(e.alive());
}

#[test]
fn injection_and_bleed_are_refused_with_default_flags() {
    let mut e = Eagw::start(3, "");
    let c = setup_call(&mut e, "inject-1", |d| d);
    // both parties talk first, so both streams are latched
    c.a.send_to(&rtp(0, 0xa, b"hello from A"), c.to_a_side).unwrap();
    c.b.send_to(&rtp(0, 0xb, b"hello from B"), c.to_b_side).unwrap();
    assert_eq!(drain(&c.b, Duration::from_millis(150)).len(), 1);
    assert_eq!(drain(&c.a, Duration::from_millis(150)).len(), 1);

    // 101 injected packets to each of eagw's ports from an attacker
    let attacker = peer();
    for i in 0..101u16 {
        attacker.send_to(&rtp(i, 0xbad, b"INJECTED"), c.to_a_side).unwrap();
        attacker.send_to(&rtp(i, 0xbad, b"INJECTED"), c.to_b_side).unwrap();
    }
    // the real parties keep talking: media must still go to them, not to the attacker
    for i in 1..11u16 {
        c.a.send_to(&rtp(i, 0xa, b"A"), c.to_a_side).unwrap();
        c.b.send_to(&rtp(i, 0xb, b"B"), c.to_b_side).unwrap();
    }
    let at_b = drain(&c.b, Duration::from_millis(200));
    let at_a = drain(&c.a, Duration::from_millis(100));
    assert!(at_b.iter().chain(&at_a).all(|(p, _)| !p.ends_with(b"INJECTED")), "an injected packet was forwarded");
    assert_eq!(at_b.len(), 10);
    assert_eq!(at_a.len(), 10);
    assert!(drain(&attacker, Duration::from_millis(100)).is_empty(), "media bled to the attacker");
    assert_eq!(e.total_stat("foreignpackets"), 202);

    // during learning: the attacker sends first to the callee-facing port, before the
    // real callee has sent anything; the SDP names the real callee
    let d = setup_call(&mut e, "inject-2", |d| d);
    for i in 0..20u16 {
        attacker.send_to(&rtp(i, 0xbad, b"INJECTED"), d.to_b_side).unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    d.a.send_to(&rtp(1, 0xa, b"A1"), d.to_a_side).unwrap();
    assert!(drain(&attacker, Duration::from_millis(150)).is_empty(), "callee media went to the attacker");
    assert_eq!(drain(&d.b, Duration::from_millis(100)).len(), 1, "the callee named in the SDP gets the media");
    assert!(drain(&d.a, Duration::from_millis(50)).is_empty(), "attacker's packets were forwarded");
    d.b.send_to(&rtp(1, 0xb, b"B1"), d.to_b_side).unwrap();
    assert_eq!(drain(&d.a, Duration::from_millis(150)).len(), 1);
    // past the 3 s learning window the attacker still has nothing
    std::thread::sleep(Duration::from_millis(3200));
    for i in 20..40u16 {
        attacker.send_to(&rtp(i, 0xbad, b"INJECTED"), d.to_b_side).unwrap();
    }
    d.a.send_to(&rtp(2, 0xa, b"A2"), d.to_a_side).unwrap();
    assert!(drain(&attacker, Duration::from_millis(150)).is_empty());
    assert_eq!(drain(&d.b, Duration::from_millis(50)).len(), 1);
    assert!(drain(&d.a, Duration::from_millis(50)).is_empty());
}

#[test]
fn nat_peer_is_learned_per_endpoint_learning() {
    let mut e = Eagw::start(4, "");
    // the SDP names one port, but the caller sends from another (a NAT rewrote it)
    for (mode, delay_ms) in [("immediate", 0u64), ("heuristic", 3200)] {
        let id = format!("nat-{mode}");
        let named = peer();
        let natted = peer();
        let b = peer();
        let r = e.ng(
            &offer(&id, "tag-a", &sdp(named.local_addr().unwrap().port(), ""))
                .str("endpoint-learning", mode)
                .build(),
        );
        let to_b_side = media_addr(&s(&r, "sdp"));
        let r = e.ng(&answer(&id, "tag-a", "tag-b", &sdp(b.local_addr().unwrap().port(), "")).build());
        let to_a_side = media_addr(&s(&r, "sdp"));
        natted.send_to(&rtp(0, 1, b"x"), to_a_side).unwrap();
        if delay_ms > 0 {
            assert!(drain(&b, Duration::from_millis(100)).is_empty(), "{mode}: relayed before learning");
            std::thread::sleep(Duration::from_millis(delay_ms));
            natted.send_to(&rtp(1, 1, b"x"), to_a_side).unwrap();
        }
        assert_eq!(drain(&b, Duration::from_millis(200)).len(), 1, "{mode}: natted caller relayed");
        b.send_to(&rtp(0, 2, b"y"), to_b_side).unwrap();
        assert_eq!(drain(&natted, Duration::from_millis(200)).len(), 1, "{mode}: media goes to the learned address");
        assert!(drain(&named, Duration::from_millis(50)).is_empty());
    }
}

#[test]
fn media_timeout_deletes_or_marks() {
    let mut e = Eagw::start(5, "[media]\ntimeout_secs = 1\n");
    let c = setup_call(&mut e, "to-1", |d| d);
    let _keep = setup_call(&mut e, "to-2", |d| d);
    // keep to-2 alive with media, let to-1 starve
    for i in 0..25u16 {
        _keep.a.send_to(&rtp(i, 1, b"x"), _keep.to_a_side).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    let q = e.ng(&DictBuilder::new().str("command", "query").str("call-id", &c.id).build());
    assert_eq!(s(&q, "result"), "error", "timed-out call deleted");
    let q = e.ng(&DictBuilder::new().str("command", "query").str("call-id", "to-2").build());
    assert_eq!(s(&q, "result"), "ok", "call with media kept");
    assert!(e.total_stat("timeoutsessions") >= 1);
    drop(e);

    let mut e = Eagw::start(5, "[media]\ntimeout_secs = 1\ntimeout_action = \"mark\"\n");
    let c = setup_call(&mut e, "to-3", |d| d);
    std::thread::sleep(Duration::from_millis(2500));
    let q = e.ng(&DictBuilder::new().str("command", "query").str("call-id", &c.id).build());
    assert_eq!(s(&q, "result"), "ok");
    assert_eq!(q.get("timed out").and_then(Value::as_int), Some(1));
}

#[test]
fn ports_come_from_the_range_in_pairs_and_go_back_on_delete() {
    let mut e = Eagw::start(6, "");
    let mut calls = vec![];
    for i in 0..20 {
        let c = setup_call(&mut e, &format!("ports-{i}"), |d| d);
        for p in [c.to_a_side.port(), c.to_b_side.port()] {
            assert!(p >= e.port_min && p <= e.port_max, "port {p} outside the range");
            assert_eq!(p % 2, 0, "RTP on even ports");
        }
        calls.push(c);
    }
    let st = e.statistics();
    let inuse = |st: &Value| st.get("currentstatistics").and_then(|c| c.get("portsinuse")).and_then(Value::as_int).unwrap();
    assert_eq!(inuse(&st), 40);
    for c in &calls {
        let r = e.ng(&DictBuilder::new().str("command", "delete").str("call-id", &c.id).str("from-tag", "tag-a").build());
        assert_eq!(s(&r, "result"), "ok");
    }
    assert_eq!(inuse(&e.statistics()), 0);
    // a port just given back can be bound by someone else now
    UdpSocket::bind(("127.0.0.1", calls[0].to_a_side.port())).expect("port released");
}

#[test]
fn ipv6_call_relays_and_address_family_switches_sides() {
    let mut e = Eagw::start(7, "");
    let a = UdpSocket::bind("[::1]:0").unwrap();
    let b = peer(); // IPv4 callee
    let v6 = |port: u16| sdp(port, "").replace("IN IP4 127.0.0.1", "IN IP6 ::1");
    // an IPv6 caller, an IPv4 callee: `address family: IP4` for the callee's side
    let r = e.ng(&offer("v6", "A", &v6(a.local_addr().unwrap().port())).str("address family", "IP4").build());
    let out = s(&r, "sdp");
    assert!(out.contains("c=IN IP4 127.0.0.1"), "{out}");
    let to_b_side = media_addr(&out);
    let r = e.ng(&answer("v6", "A", "B", &sdp(b.local_addr().unwrap().port(), "")).build());
    let out = s(&r, "sdp");
    assert!(out.contains("c=IN IP6 ::1"), "the caller gets an IPv6 answer: {out}");
    let to_a_side = media_addr(&out);
    assert!(to_a_side.is_ipv6());
    a.send_to(&rtp(1, 1, b"over v6"), to_a_side).unwrap();
    let got = drain(&b, Duration::from_millis(200));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, rtp(1, 1, b"over v6"));
    b.send_to(&rtp(1, 2, b"over v4"), to_b_side).unwrap();
    a.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = a.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], rtp(1, 2, b"over v4").as_slice());
    assert_eq!(from, to_a_side);
}

/// Each `eagw-worker-N` thread of process `pid`: (scheduling policy, real-time priority),
/// from /proc/PID/task/TID/stat (fields 41 and 40; the name in field 2 may hold spaces).
fn worker_scheduling(pid: u32) -> Vec<(i64, i64)> {
    let mut out = vec![];
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if !comm.starts_with("eagw-worker-") {
            continue;
        }
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap();
        let rest: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().collect();
        out.push((rest[41 - 3].parse().unwrap(), rest[40 - 3].parse().unwrap()));
    }
    out
}

/// Whether this process may put a thread under SCHED_FIFO (root, CAP_SYS_NICE or an
/// RLIMIT_RTPRIO): tried on a thread of its own, which then exits.
fn may_use_real_time() -> bool {
    std::thread::spawn(|| {
        let p = libc::sched_param { sched_priority: 7 };
        // SAFETY: plain syscall on this short-lived thread.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) == 0 }
    })
    .join()
    .unwrap()
}

#[test]
fn real_time_workers_are_scheduled_fifo_and_relay() {
    let mut e = Eagw::start(61, "[general]\nworker_scheduling = \"fifo\"\nworker_priority = 7\n");
    let c = setup_call(&mut e, "rt-1", |d| d);
    for i in 0..20u16 {
        c.a.send_to(&rtp(i, 0xaaaa, &payload(i, 1)), c.to_a_side).unwrap();
    }
    assert_eq!(drain(&c.b, Duration::from_millis(300)).len(), 20, "a real-time worker relays");
    let workers = worker_scheduling(e.pid());
    assert_eq!(workers.len(), 2, "the test config runs two workers: {workers:?}");
    let (_, metrics) = e.http("GET", "/metrics", "text/plain", b"");
    let metrics = String::from_utf8_lossy(&metrics).to_string();
    if may_use_real_time() {
        assert!(workers.iter().all(|w| *w == (libc::SCHED_FIFO as i64, 7)), "SCHED_FIFO at priority 7: {workers:?}");
        assert!(e.log_text().contains("real-time scheduling"), "the log says so");
        assert!(metrics.contains("\neagw_realtime_workers 2\n"), "and /metrics: {metrics}");
    } else {
        // no privilege: the workers run time-shared and the log and /metrics say so
        assert!(workers.iter().all(|w| w.0 == libc::SCHED_OTHER as i64), "{workers:?}");
        assert!(e.log_text().contains("worker_scheduling not applied"), "{}", e.log_text());
        assert!(metrics.contains("\neagw_realtime_workers 0\n"), "{metrics}");
    }
    // the control threads stay time-shared: only the workers are real time
    let main_policy = std::fs::read_to_string(format!("/proc/{}/stat", e.pid())).unwrap();
    let rest: Vec<&str> = main_policy[main_policy.rfind(')').unwrap() + 1..].split_whitespace().collect();
    assert_eq!(rest[41 - 3], "0", "the main thread is SCHED_OTHER");
}
