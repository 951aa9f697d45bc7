#![no_main]
//! The SRTP/SRTCP unprotect paths with a fixed key: arbitrary bytes in must not panic and
//! must not authenticate (rtc-srtp's and our in-place transform); arbitrary RTP protected
//! in place must come back unchanged once and be refused as a replay the second time; and
//! a=crypto parsing.
use eagw::transport::sdes::{parse_crypto, SrtpKey, Suite};
use eagw::transport::srtp::Srtp;
use eagw::transport::srtp_rtp::MAX_TAG;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_crypto(s);
    }
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AeadAes128Gcm] {
        let key = SrtpKey { suite, material: vec![7u8; suite.material_len()] };
        let mut ctx = Srtp::new(key.clone()).unwrap();
        assert!(ctx.unprotect(data, false).is_err() || data.len() >= 12, "short input authenticated");
        let _ = ctx.unprotect(data, true);
        let mut copy = data.to_vec();
        assert!(ctx.unprotect_rtp(&mut copy).is_err(), "junk authenticated");

        let mut tx = Srtp::new(key.clone()).unwrap();
        let mut rx = Srtp::new(key).unwrap();
        let mut buf = data.to_vec();
        buf.resize(data.len() + MAX_TAG, 0);
        if let Ok(n) = tx.protect_rtp(&mut buf, data.len()) {
            let sealed = buf[..n].to_vec();
            let m = rx.unprotect_rtp(&mut buf[..n]).expect("own packet refused");
            assert_eq!(&buf[..m], data);
            let mut again = sealed;
            assert!(rx.unprotect_rtp(&mut again).is_err(), "replay accepted");
        }
    }
});
