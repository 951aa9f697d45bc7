#![no_main]
//! The AMR-WB decoder (libopencore behind our checks) fed a stream of storage frames cut
//! from the input: record = length octet (0 = a lost frame) + that many octets.
use eagw::codec::amrwb::{AmrwbDecoder, FRAME};
use eagw::codec::{Decoder, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut dec = AmrwbDecoder::new().expect("decoder");
    let mut out = [0i16; FRAME];
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = (len as usize).min(tail.len());
        let (frame, tail) = tail.split_at(n);
        rest = tail;
        let input = if len == 0 { Input::Lost } else { Input::Frame(frame) };
        if let Ok(k) = dec.decode(input, &mut out) {
            assert_eq!(k, FRAME);
        }
    }
});
