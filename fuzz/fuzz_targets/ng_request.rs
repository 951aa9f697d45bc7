#![no_main]
//! A whole ng datagram: cookie split, bencode or JSON decode, flag parsing into Options.
use eagw::control::flags::parse_options;
use eagw::control::server::{decode_body, split_cookie};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = match split_cookie(data) {
        Some((_, b)) => b,
        None => data,
    };
    if let Ok((v, _)) = decode_body(body) {
        let _ = parse_options(&v);
    }
});
