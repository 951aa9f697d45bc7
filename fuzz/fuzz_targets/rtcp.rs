#![no_main]
//! generate-RTCP: the parser of the parties' RTCP, and the statistics fed with arbitrary
//! RTP headers and arrival times; every report built must parse back as SR/RR + SDES.
//!
//! Input: records. Kind byte `k`, then
//! - k % 4 == 0: a length byte and that many bytes of the party's RTCP (`Rtcp::on_rtcp`);
//! - k % 4 == 1 / 2: 9 bytes of an RTP header received from / sent to the party
//!   (seq u16, timestamp u32, SSRC low byte, payload type, time step in ms);
//! - k % 4 == 3: a report is built and parsed back.
use eagw::media::rtcp::{parse, Item, Rtcp};
use eagw::media::rtp::RtpHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // the raw input as RTCP, too
    let _ = parse(data, |_| {});
    let mut r = Rtcp::new(7, 5_000_000_000, 0);
    r.set_clocks(&[(0, 8000), (8, 8000), (9, 8000), (111, 48000), (96, 90000)]);
    let mut now = 0u64;
    let mut i = 0;
    let mut buf = [0u8; 512];
    while i < data.len() {
        let k = data[i];
        i += 1;
        match k % 4 {
            0 => {
                let n = *data.get(i).unwrap_or(&0) as usize;
                let end = (i + 1 + n).min(data.len());
                let pkt = data.get(i + 1..end).unwrap_or(&[]);
                let _ = r.on_rtcp(pkt, now);
                i = end;
            }
            1 | 2 => {
                let Some(b) = data.get(i..i + 9) else { break };
                i += 9;
                let h = RtpHeader {
                    marker: false,
                    payload_type: b[7] & 0x7f,
                    sequence: u16::from_be_bytes([b[0], b[1]]),
                    timestamp: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                    ssrc: b[6] as u32,
                    payload_offset: 12,
                };
                now += b[8] as u64 * 1_000_000;
                if k % 4 == 1 {
                    r.on_rtp_received(&h, now);
                } else {
                    r.on_rtp_sent(&h, b[8] as usize, now);
                }
            }
            _ => {
                let n = r.build(now, now << 8, &mut buf);
                assert!(n > 0 && n % 4 == 0);
                let mut blocks = 0;
                assert_eq!(parse(&buf[..n], |it| if let Item::Block(_) = it { blocks += 1 }), Ok(2));
                assert!(blocks <= eagw::media::rtcp::MAX_SOURCES);
                assert!(buf[1] == 200 || buf[1] == 201);
            }
        }
    }
});
