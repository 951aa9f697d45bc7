#![no_main]
//! The TURN stream framer (`turn::framer`): arbitrary bytes, fed whole and in chunks of
//! every size the input picks, frame into the same messages and fail at the same point;
//! it never panics, and every message it hands out is STUN or padded ChannelData of the
//! length its header says.
use eagw::turn::framer::{frame_len, Framer};
use libfuzzer_sys::fuzz_target;

fn frames(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut f = Framer::default();
    let mut out = vec![];
    for c in chunks {
        f.push(c);
        loop {
            match f.next_message() {
                Ok(Some(m)) => out.push(m.to_vec()),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, stream)) = data.split_first() else { return };
    let step = (step as usize % 64) + 1;
    let (whole, broken) = frames(&[stream]);
    let chunks: Vec<&[u8]> = stream.chunks(step).collect();
    let (split, broken2) = frames(&chunks);
    assert_eq!(whole, split);
    assert_eq!(broken, broken2);
    for m in &whole {
        assert_eq!(frame_len(m), Ok(Some(m.len())));
        match m[0] {
            0..=3 => assert_eq!(m.len(), 20 + u16::from_be_bytes([m[2], m[3]]) as usize),
            0x40..=0x7f => assert_eq!(m.len(), (4 + u16::from_be_bytes([m[2], m[3]]) as usize + 3) & !3),
            _ => panic!("framed a message that is neither STUN nor ChannelData"),
        }
    }
});
