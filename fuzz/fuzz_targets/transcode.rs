#![no_main]
//! A transcoding pipeline under arbitrary RTP: the first octet picks the codec pair, then
//! records of (time step, payload type choice, timestamp jump, payload length, pull?) and
//! their payload octets. Truncated AMR-WB, Opus garbage, wrong payload types, absurd
//! timestamps and telephone-event junk must be counted and concealed, never a panic, and
//! every packet pulled must be well-formed RTP of the configured output payload type. With
//! or without telephone-event on each side (events become tones, in-band digits events),
//! and `play DTMF` digits queued along the way.
use eagw::media::rtp::{classify, Kind, RtpHeader};
use eagw::media::transcode::{CodecKind, CodecSpec, Pipeline, PlayDigit, PushResult, TranscodeSpec, MAX_PACKET};
use libfuzzer_sys::fuzz_target;

const KINDS: [CodecKind; 4] = [CodecKind::Pcmu, CodecKind::Pcma, CodecKind::Opus, CodecKind::AmrWb];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else { return };
    let (rx, tx) = (KINDS[(sel & 3) as usize], KINDS[((sel >> 2) & 3) as usize]);
    let fmtp = if sel & 0x10 != 0 { "octet-align=1" } else { "" };
    let mut spec = TranscodeSpec::defaults(
        CodecSpec { pt: 96, kind: rx, fmtp: fmtp.into() },
        CodecSpec { pt: 97, kind: tx, fmtp: fmtp.into() },
    );
    spec.rx_dtmf = (sel & 0x40 == 0).then_some((101, rx.clock()));
    spec.tx_dtmf = (sel & 0x20 != 0).then_some((100, tx.clock()));
    spec.rx_cn = Some(13);
    spec.tx_cn = (sel & 0x80 != 0).then_some(13);
    // AMR-WB DTX with the octet-aligned framing (SID frames and NO_DATA in the packets)
    spec.amrwb_dtx = sel & 0x10 != 0;
    let Ok(mut p) = Pipeline::new(&spec, 42) else { return };
    let (mut now, mut ts, mut seq) = (0u64, 0u32, 0u16);
    let mut out = vec![0u8; MAX_PACKET];
    while rest.len() >= 5 {
        let (r, tail) = rest.split_at(5);
        let len = (r[4] as usize).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        now += r[0] as u64 * 1_000_000;
        let pt = match r[1] % 4 {
            0 => 101,
            1 => 13,
            2 => r[1] & 0x7f,
            _ => 96,
        };
        let jump = u16::from_be_bytes([r[2], r[3]]) as u32;
        ts = if r[1] & 0x80 != 0 { ts.wrapping_add(jump << 16) } else { ts.wrapping_add(jump % 4000) };
        seq = seq.wrapping_add(1);
        let h = RtpHeader { marker: r[3] & 1 != 0, payload_type: pt, sequence: seq, timestamp: ts, ssrc: 1, payload_offset: 12 };
        if p.push(now, &h, payload) == PushResult::Dtmf {
            let mut o = [0u8; 64];
            if let Some(n) = p.dtmf(&h, payload, &mut o) {
                assert!(matches!(classify(&o[..n]), Kind::Rtp(x) if x.payload_type == 100));
            }
        }
        if r[2] == 0xff {
            let d = PlayDigit { event: r[3] & 15, duration_ms: r[3] as u32 * 20, volume: r[4] & 63, pause_ms: r[1] as u32 };
            p.play_dtmf(&[d; 3]);
        }
        if r[0] & 1 == 0 {
            if let Some(n) = p.pull(now, &mut out) {
                match classify(&out[..n]) {
                    Kind::Rtp(x) if x.payload_type == 13 => assert_eq!(n, 13),
                    Kind::Rtp(x) => assert_eq!(x.payload_type, 97),
                    k => panic!("pulled {k:?}"),
                }
            }
            let mut events = 0;
            while let Some(n) = p.pull_event(&mut out) {
                assert!(n == 16 && matches!(classify(&out[..n]), Kind::Rtp(x) if x.payload_type == 100));
                events += 1;
                assert!(events <= 3);
            }
        }
    }
});
