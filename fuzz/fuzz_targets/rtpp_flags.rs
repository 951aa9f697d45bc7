#![no_main]
//! Fuzz the rtpp-flags string parser.

use eagw::control::rtpp_flags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rtpp_flags::parse(s);
    }
});
