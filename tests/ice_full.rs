//! Full ICE: a party that is ICE-lite itself (another gateway, an SBC) cannot be reached
//! by a lite eagw, since nobody would send checks. eagw turns full and controlling: it
//! checks the party's candidate and nominates it; media flows only after that, and only
//! to the nominated address. The lite party is played by eagw's own lite responder
//! (`transport::ice::IceLite`), so both ends are checked from the wire.

mod common;
use common::*;
use eagw::transport::ice::{Creds, IceLite, Outcome};
use std::time::{Duration, Instant};

#[test]
fn eagw_runs_full_ice_towards_an_ice_lite_party() {
    let mut e = Eagw::start(32, "");
    let crypto = rtc_crypto::default_provider().unwrap();
    let lite_sock = peer();
    let ims = peer();
    let lite_addr = lite_sock.local_addr().unwrap();
    let creds = Creds { ufrag: "LiTe".into(), pwd: "lite-party-password-0123".into() };
    let a_sdp = sdp(
        lite_addr.port(),
        &format!(
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 {} typ host\r\na=rtcp-mux\r\n",
            creds.ufrag,
            creds.pwd,
            lite_addr.port()
        ),
    )
    .replace("s=test\r\n", "s=test\r\na=ice-lite\r\n");
    let r = e.ng(&offer("full-ice", "lite", &a_sdp).val("flags", eagw::control::bencode::Value::List(vec![])).str("ICE", "remove").build());
    let to_ims = media_addr(&s(&r, "sdp"));
    assert!(!s(&r, "sdp").contains("ice-"), "{}", s(&r, "sdp"));
    let r = e.ng(&answer("full-ice", "lite", "ims", &sdp(ims.local_addr().unwrap().port(), "")).build());
    let back = s(&r, "sdp");
    // eagw's answer: ICE without a=ice-lite (it is the full agent here)
    assert!(back.contains("a=ice-ufrag:") && back.contains("typ host") && !back.contains("a=ice-lite"), "{back}");
    let eagw_addr = media_addr(&back);

    // before nomination nothing reaches the lite party but checks
    let mut lite = IceLite::new(creds);
    ims.send_to(&rtp(1, 7, &[0u8; 160]), to_ims).unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 2048];
    lite_sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    while lite.selected().is_none() && t0.elapsed() < Duration::from_secs(5) {
        let Ok((n, from)) = lite_sock.recv_from(&mut buf) else { continue };
        assert_eq!(from, eagw_addr);
        assert!(buf[0] < 4, "only STUN before nomination, got first byte {}", buf[0]);
        if let Outcome::Answer { reply, .. } = lite.on_stun(&buf[..n], from, 1, crypto.crypto()) {
            lite_sock.send_to(&reply, from).unwrap();
        }
    }
    assert_eq!(lite.selected(), Some(eagw_addr), "eagw nominated (USE-CANDIDATE) within {:?}", t0.elapsed());

    // media both ways once the pair is up (the agent needs our answer to its nomination)
    std::thread::sleep(Duration::from_millis(300));
    for seq in 10..20u16 {
        ims.send_to(&rtp(seq, 7, &[1u8; 160]), to_ims).unwrap();
        lite_sock.send_to(&rtp(seq, 9, &[2u8; 160]), eagw_addr).unwrap();
    }
    let mut got_rtp = 0;
    let t1 = Instant::now();
    while t1.elapsed() < Duration::from_secs(2) && got_rtp < 10 {
        let Ok((n, from)) = lite_sock.recv_from(&mut buf) else { continue };
        if buf[0] < 4 {
            if let Outcome::Answer { reply, .. } = lite.on_stun(&buf[..n], from, 2, crypto.crypto()) {
                lite_sock.send_to(&reply, from).unwrap();
            }
        } else if buf[0] >> 6 == 2 {
            got_rtp += 1;
        }
    }
    assert_eq!(got_rtp, 10, "IMS → lite party after nomination");
    let at_ims = drain(&ims, Duration::from_millis(300));
    assert_eq!(at_ims.len(), 10, "lite party → IMS");
    assert!(e.total_stat("icechecks") >= 1);
    e.terminate();
}
