//! Fuzz the SDP parser: it must never panic, and whatever it accepts must survive a
//! serialize/parse round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sdp) = eagw::sdp::parse(text) {
        let written = sdp.to_string_crlf();
        match eagw::sdp::parse(&written) {
            Ok(again) => {
                assert_eq!(again, sdp, "round trip changed the SDP: {written:?}");
                // Serialization is a fixed point after one round.
                assert_eq!(again.to_string_crlf(), written);
            }
            Err(e) => panic!("serialized SDP does not parse ({e}): {written:?}"),
        }
    }
});
