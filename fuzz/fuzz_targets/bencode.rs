#![no_main]
//! Fuzz the ng bencode decoder, encoder and TCP-ng framer.

use eagw::control::bencode::{self, Frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // decode -> encode -> decode must reproduce the same value.
    if let Ok((value, used)) = bencode::decode(data) {
        assert!(used <= data.len());
        let mut wire = Vec::new();
        bencode::encode(&value, &mut wire);
        let again = bencode::decode_all(&wire).expect("re-decoding our own encoding failed");
        assert_eq!(value, again);
        // JSON conversion must not panic either (values are depth-bounded).
        let _ = bencode::to_json(&value);
    }
    let _ = bencode::decode_all(data);

    // Framing must not panic, and a Complete frame must hold a decodable dict.
    match bencode::frame(data) {
        Frame::Complete {
            cookie_len,
            total_len,
        } => {
            assert!(cookie_len >= 1 && cookie_len < total_len && total_len <= data.len());
            let dict = &data[cookie_len + 1..total_len];
            let v = bencode::decode_all(dict).expect("frame() accepted an undecodable dict");
            assert!(v.as_dict().is_some());
        }
        Frame::Incomplete | Frame::Invalid(_) => {}
    }
});
