#![no_main]
//! Arbitrary SDP through the offer/answer state machine (with fake sockets): no panic,
//! and the rewritten SDP parses again.
use eagw::session::testing::{offer_answer_options, FakeSockets};
use eagw::session::{Call, Interfaces};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (offer_sdp, answer_sdp) = text.split_once("\n--\n").unwrap_or((text, text));
    let ifaces = Interfaces { names: vec!["a".into(), "b".into()], families: vec![(true, true), (true, false)], fingerprint: "sha-256 00".into() };
    let mut socks = FakeSockets::default();
    let mut call = Call::new("c", eagw::session::call::default_learn(), 0);
    let (o, a) = offer_answer_options(offer_sdp, answer_sdp);
    if let Ok(out) = call.offer(&o, &ifaces, &mut socks, 0) {
        assert!(eagw::sdp::parse(&out).is_ok(), "rewritten offer does not parse");
        if let Ok(out) = call.answer(&a, &ifaces, &mut socks, 1) {
            assert!(eagw::sdp::parse(&out).is_ok(), "rewritten answer does not parse");
        }
    }
    call.close(&mut socks);
    assert_eq!(socks.open_count(), 0, "sockets leaked");
});
