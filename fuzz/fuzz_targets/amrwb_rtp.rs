#![no_main]
//! RFC 4867 depacketizer, both framings; what parses must re-packetize to a payload that
//! parses to the same frames (padding and reserved bits aside).
use eagw::codec::amrwb_rtp::{depacketize, packetize, Framing, Payload};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut p = Payload::default();
    let mut q = Payload::default();
    for framing in [Framing::BandwidthEfficient, Framing::OctetAligned] {
        if depacketize(data, framing, &mut p).is_ok() {
            assert!(p.count >= 1 && p.count <= p.frames.len());
            let mut buf = [0u8; 1200];
            let n = packetize(p.cmr, p.frames(), framing, &mut buf).expect("re-packetize");
            depacketize(&buf[..n], framing, &mut q).expect("re-parse");
            assert_eq!(p.frames(), q.frames());
            assert_eq!(p.cmr, q.cmr);
        }
    }
});
