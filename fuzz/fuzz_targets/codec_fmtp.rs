#![no_main]
//! `a=fmtp` parameter parsers of AMR-WB (RFC 4867) and Opus (RFC 7587); Opus parameters
//! that parse must format and parse back to the same values.
use eagw::codec::amrwb_rtp::Fmtp;
use eagw::codec::opus_fmtp::OpusFmtp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(f) = Fmtp::parse(s) {
        let _ = (f.framing(), f.supported(), (0..16).map(|ft| f.allows(ft)).count());
    }
    if let Ok(f) = OpusFmtp::parse(s) {
        let mut out = String::new();
        f.format(&mut out);
        assert_eq!(OpusFmtp::parse(&out), Ok(f), "{out}");
        let r = f.encoder_rate(48000);
        assert!(r == 8000 || r == 16000 || r == 48000);
    }
});
