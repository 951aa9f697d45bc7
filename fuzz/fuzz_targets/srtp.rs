#![no_main]
//! The SRTP/SRTCP unprotect path with a fixed key (arbitrary bytes in, must not panic and
//! must not authenticate), and a=crypto parsing.
use eagw::transport::sdes::{parse_crypto, SrtpKey, Suite};
use eagw::transport::srtp::Srtp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_crypto(s);
    }
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AeadAes128Gcm] {
        let key = SrtpKey { suite, material: vec![7u8; suite.material_len()] };
        let mut ctx = Srtp::new(key).unwrap();
        assert!(ctx.unprotect(data, false).is_err() || data.len() >= 12, "short input authenticated");
        let _ = ctx.unprotect(data, true);
    }
});
