#![no_main]
//! The Opus decoder (libopus via audiopus) fed packets cut from the input: first octet
//! picks the rate and whether losses use FEC from the next packet; then records of a
//! length octet (0 = lost) + that many octets.
use eagw::codec::opus::OpusDecoder;
use eagw::codec::{frame_samples, Decoder, Input, MAX_FRAME_SAMPLES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, mut rest)) = data.split_first() else { return };
    let rate = [8000, 16000, 48000][(ctl % 3) as usize];
    let fec = ctl & 0x80 != 0;
    let mut dec = OpusDecoder::new(rate).expect("decoder");
    // room for a 120 ms packet, the longest Opus allows
    let mut out = [0i16; 6 * MAX_FRAME_SAMPLES];
    let mut packets: Vec<&[u8]> = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        let (p, tail) = tail.split_at(n);
        rest = tail;
        packets.push(if len == 0 { &[] } else { p });
    }
    for (i, p) in packets.iter().enumerate() {
        let input = if !p.is_empty() {
            Input::Frame(p)
        } else if fec {
            Input::LostWithNext(packets.get(i + 1).copied().unwrap_or(&[]))
        } else {
            Input::Lost
        };
        if let Ok(k) = dec.decode(input, &mut out) {
            assert!(k <= out.len());
            if !matches!(input, Input::Frame(_)) {
                assert_eq!(k, frame_samples(rate));
            }
        }
    }
});
