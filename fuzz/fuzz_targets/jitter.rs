#![no_main]
//! The jitter buffer under arbitrary arrivals: records of (time step, seq, timestamp
//! jump, payload length, pop?) — absurd timestamps, jumps, duplicates, bursts. Checks the
//! bounds it promises: level within the ring, target within its limits, payloads intact.
use eagw::media::jitter::{Config, JitterBuffer, Out};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = Config { clock_rate: 16000, slots: 16, max_payload: 64, ..Default::default() };
    let mut jb = JitterBuffer::new(cfg);
    let mut now = 0u64;
    let mut ts = 0u32;
    for r in data.chunks_exact(8) {
        now += r[0] as u64 * 1_000_000;
        let seq = u16::from_be_bytes([r[1], r[2]]);
        // small steps mostly, the whole u32 range sometimes
        let jump = i32::from_be_bytes([r[3], r[4], r[5], r[6]]);
        ts = if r[7] & 0x80 != 0 { ts.wrapping_add(jump as u32) } else { ts.wrapping_add((jump % 2000) as u32) };
        let len = (r[7] & 0x7f) as usize;
        let payload = [r[1]; 127];
        let _ = jb.push(now, seq, ts, &payload[..len]);
        assert!(jb.level_frames() <= cfg.slots as u64 + 1, "level {}", jb.level_frames());
        assert!(jb.target_ms() >= cfg.min_delay_ms && jb.target_ms() <= cfg.max_delay_ms);
        if r[0] & 1 == 0 {
            match jb.pop(now) {
                Out::Frame { payload, .. } => assert!(!payload.is_empty() && payload.len() <= 64),
                Out::Lost { next: Some(p), .. } => assert!(p.len() <= 64),
                _ => {}
            }
        }
        if r[0] & 2 == 0 {
            jb.skip_next();
        }
    }
});
