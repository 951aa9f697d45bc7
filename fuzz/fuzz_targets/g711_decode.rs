#![no_main]
//! G.711 decoders (A-law, µ-law) on payloads of any length, with losses; every code
//! decodes to a sample that encodes back to the same code (µ-law's −0 aside).
use eagw::codec::g711::{decode_sample, encode_sample, G711Decoder, Law};
use eagw::codec::{Decoder, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for law in [Law::A, Law::Mu] {
        let mut dec = G711Decoder::new(law);
        let mut out = [0i16; 480];
        for chunk in data.chunks(200) {
            match dec.decode(Input::Frame(chunk), &mut out) {
                Ok(n) => assert_eq!(n, chunk.len()),
                Err(_) => assert!(chunk.len() > out.len()),
            }
            assert_eq!(dec.decode(Input::Lost, &mut out), Ok(160));
        }
        for &c in data.iter().take(64) {
            let s = decode_sample(law, c);
            assert!(encode_sample(law, s) == c || (law == Law::Mu && s == 0));
        }
    }
});
