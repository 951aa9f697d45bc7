//! One direction of a transcoded stream, sans-IO: RTP from one party goes in with its
//! arrival time ([`Pipeline::push`]); the playout timer pulls one 20 ms frame
//! ([`Pipeline::pull`]), which is decoded (or concealed), converted in rate where the codecs
//! need it, encoded and written as a complete RTP packet for the other party.
//!
//! - Timing: received frames go into a [`JitterBuffer`] at the sender's clock; eagw is the
//!   RTP source towards the other party (its own SSRC, sequence numbers and timestamps),
//!   so loss, reordering and jitter on one side never show on the other.
//! - Concealment: a lost frame is rebuilt by the decoder (Opus PLC, or FEC from the next
//!   packet; AMR-WB erasure; G.711 fading repeat); an underrun (a DTX pause, a late burst)
//!   is concealed without consuming a frame.
//! - Silence: a comfort-noise packet (RFC 3389), an AMR-WB SID or NO_DATA, or an Opus DTX
//!   pause become concealment/comfort noise from the decoder, and the other side keeps
//!   receiving frames (encoded by its codec's own DTX if negotiated), so neither side sees a
//!   gap it would read as loss. After [`IDLE_FRAMES`] of nothing the output pauses (a party
//!   on hold or gone sends nothing, and neither does eagw for it).
//! - Rates: Opus decodes and encodes at the other codec's rate itself (8 or 16 kHz); only
//!   G.711 ↔ AMR-WB goes through the half-band resampler.
//! - AMR-WB: every frame of a multi-frame payload is buffered on its own; the CMR the
//!   party sends is reported to the caller ([`PushResult::Cmr`]) for the opposite
//!   pipeline's encoder ([`Pipeline::apply_cmr`]).
//! - DTMF: RFC 4733 telephone-event is not buffered: each event packet is re-timed at once
//!   onto the output timeline and clock ([`Pipeline::dtmf`]).

use super::jitter::{self, JitterBuffer, Out};
use super::rtp::RtpHeader;
use crate::codec::amrwb::{AmrwbDecoder, AmrwbEncoder};
use crate::codec::amrwb_rtp::{self, Framing, Payload, CMR_NONE};
use crate::codec::g711::{G711Decoder, G711Encoder, Law};
use crate::codec::opus::{OpusConfig, OpusDecoder, OpusEncoder};
use crate::codec::opus_fmtp::OpusFmtp;
use crate::codec::resample::{Downsampler, Upsampler};
use crate::codec::{frame_samples, Decoder, Encoder, Error, Input, MAX_FRAME_SAMPLES};

/// Output pauses after this many frame periods without a received frame (1 s).
pub const IDLE_FRAMES: u32 = 50;
/// RTP header eagw writes (no CSRC, no extension).
pub const RTP_HEADER: usize = 12;
/// The largest packet [`Pipeline::pull`] writes.
pub const MAX_PACKET: usize = RTP_HEADER + 1500;

/// The codecs eagw transcodes between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecKind {
    Pcmu,
    Pcma,
    Opus,
    AmrWb,
}

impl CodecKind {
    /// From an rtpmap encoding name and clock rate.
    pub fn from_rtpmap(name: &str, clock: u32) -> Option<CodecKind> {
        Some(match (name.to_ascii_uppercase().as_str(), clock) {
            ("PCMU", 8000) => CodecKind::Pcmu,
            ("PCMA", 8000) => CodecKind::Pcma,
            ("OPUS", 48000) => CodecKind::Opus,
            ("AMR-WB", 16000) => CodecKind::AmrWb,
            _ => return None,
        })
    }
    /// RTP clock rate.
    pub fn clock(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::Opus => 48000,
            CodecKind::AmrWb => 16000,
        }
    }
    /// Rate of the audio it carries (Opus: what its decoder or encoder is run at when the
    /// other side is full band; see [`Pipeline::new`]).
    fn audio_rate(self) -> u32 {
        match self {
            CodecKind::Pcmu | CodecKind::Pcma => 8000,
            CodecKind::Opus => 48000,
            CodecKind::AmrWb => 16000,
        }
    }
    /// Its name in `query` replies.
    pub fn name(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU",
            CodecKind::Pcma => "PCMA",
            CodecKind::Opus => "opus",
            CodecKind::AmrWb => "AMR-WB",
        }
    }
    /// `a=rtpmap` value (after the payload type).
    pub fn rtpmap(self) -> &'static str {
        match self {
            CodecKind::Pcmu => "PCMU/8000",
            CodecKind::Pcma => "PCMA/8000",
            CodecKind::Opus => "opus/48000/2",
            CodecKind::AmrWb => "AMR-WB/16000",
        }
    }
}

/// A codec of one party: its payload type, which codec, and its `a=fmtp` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecSpec {
    pub pt: u8,
    pub kind: CodecKind,
    pub fmtp: String,
}

/// What the session asks of one direction (the socket facing the sending party).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscodeSpec {
    /// What the party sends.
    pub rx: CodecSpec,
    /// What eagw sends the other party.
    pub tx: CodecSpec,
    /// telephone-event payload type and clock of each side (None: not negotiated).
    pub rx_dtmf: Option<(u8, u32)>,
    pub tx_dtmf: Option<(u8, u32)>,
    /// The party's comfort-noise payload type (RFC 3389), read as silence.
    pub rx_cn: Option<u8>,
    /// Opus encoder complexity (0–10) and application (true: restricted low delay, CELT).
    pub opus_complexity: u8,
    pub opus_low_delay: bool,
    /// Opus bitrate (bit/s) and AMR-WB bitrate (picks the highest mode not above it).
    pub opus_bitrate: u32,
    pub amrwb_bitrate: u32,
}

impl TranscodeSpec {
    /// `rx` → `tx` with no DTMF or comfort noise and the default encoder settings
    /// (Opus CELT at complexity 0 and 64 kbit/s, AMR-WB 12.65; the worker applies
    /// `[media]`'s).
    pub fn defaults(rx: CodecSpec, tx: CodecSpec) -> TranscodeSpec {
        TranscodeSpec {
            rx,
            tx,
            rx_dtmf: None,
            tx_dtmf: None,
            rx_cn: None,
            opus_complexity: 0,
            opus_low_delay: true,
            opus_bitrate: 64_000,
            amrwb_bitrate: 12_650,
        }
    }
}

/// Counters of one pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames_in: u64,
    pub frames_out: u64,
    pub concealed: u64,
    /// Payloads that could not be read (bad AMR framing, Opus garbage, wrong size).
    pub bad_payload: u64,
    /// Frames whose decode failed (concealed instead).
    pub decode_errors: u64,
    pub encode_errors: u64,
    /// Frames the encoder's DTX chose not to send.
    pub dtx_frames: u64,
    /// Comfort-noise packets read as silence.
    pub cn_packets: u64,
    pub dtmf_out: u64,
    /// telephone-event packets with nowhere to go (the other side did not negotiate it).
    pub dtmf_dropped: u64,
    /// Payload types that are none of the negotiated ones.
    pub unknown_pt: u64,
    /// Silent frames dropped to bring the buffer's delay back to its target.
    pub skipped_silence: u64,
}

/// What a pushed packet asks of the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushResult {
    /// Buffered (or counted and dropped).
    Done,
    /// A telephone-event packet: call [`Pipeline::dtmf`] to get its re-timed copy.
    Dtmf,
    /// AMR-WB with a codec mode request: the opposite pipeline's encoder should obey it.
    Cmr(u8),
}

enum Dec {
    G711(Box<G711Decoder>),
    Opus(Box<OpusDecoder>),
    Amr(AmrwbDecoder),
}

impl Dec {
    fn get(&mut self) -> &mut dyn Decoder {
        match self {
            Dec::G711(d) => &mut **d,
            Dec::Opus(d) => &mut **d,
            Dec::Amr(d) => d,
        }
    }
}

enum Enc {
    G711(G711Encoder),
    Opus(Box<OpusEncoder>),
    Amr(AmrwbEncoder, Framing),
}

impl Enc {
    fn get(&mut self) -> &mut dyn Encoder {
        match self {
            Enc::G711(e) => e,
            Enc::Opus(e) => &mut **e,
            Enc::Amr(e, _) => e,
        }
    }
}

enum Rate {
    Same,
    Up(Box<Upsampler>),
    Down(Box<Downsampler>),
}

/// One direction of a transcoded stream.
pub struct Pipeline {
    spec: TranscodeSpec,
    jb: JitterBuffer,
    dec: Dec,
    enc: Enc,
    rate: Rate,
    /// AMR-WB framing of the received stream.
    amr_in: Option<Framing>,
    /// Scratch for AMR-WB depacketizing.
    amr_payload: Box<Payload>,
    /// The CMR eagw sends (a mode, or none).
    cmr_out: u8,
    last_cmr_in: u8,
    ssrc: u32,
    seq: u16,
    /// RTP timestamp of the next output frame.
    ts: u32,
    out_step: u32,
    /// Frame periods since the last frame came out of the jitter buffer.
    idle: u32,
    /// Whether the next packet starts a talkspurt (marker bit).
    marker: bool,
    /// DTMF re-timing: the party's event timestamp and eagw's timestamp for it.
    dtmf_map: Option<(u32, u32)>,
    pcm: Box<[i16; MAX_FRAME_SAMPLES]>,
    pcm2: Box<[i16; MAX_FRAME_SAMPLES]>,
    pub stats: Stats,
}

/// A frame well below speech level (RMS under −40 dBFS).
fn is_quiet(pcm: &[i16]) -> bool {
    let e: i64 = pcm.iter().map(|&s| s as i64 * s as i64).sum();
    e < 328 * 328 * pcm.len() as i64
}

fn opus_fmtp(s: &str) -> OpusFmtp {
    OpusFmtp::parse(s).unwrap_or_default()
}

fn amr_fmtp(s: &str) -> amrwb_rtp::Fmtp {
    amrwb_rtp::Fmtp::parse(s).unwrap_or_default()
}

impl Pipeline {
    /// CPU one frame of this direction costs (µs), estimated from its codecs with the
    /// figures of `cargo bench --bench codec` on the development VMs (2026-11): the
    /// playout wheel bounds each bucket's work with it.
    pub fn cost_us(&self) -> u32 {
        let s = &self.spec;
        let dec = match s.rx.kind {
            CodecKind::Pcmu | CodecKind::Pcma => 2,
            CodecKind::Opus => 30,
            CodecKind::AmrWb => 40,
        };
        let c = s.opus_complexity.min(10) as u32;
        let enc = match s.tx.kind {
            CodecKind::Pcmu | CodecKind::Pcma => 2,
            CodecKind::Opus if s.opus_low_delay => 21 + 8 * c,
            CodecKind::Opus => 57 + 23 * c,
            CodecKind::AmrWb => 215,
        };
        dec + enc + 5
    }

    /// Builds the decoder, encoder and buffer for `spec`. `seed` gives the output SSRC,
    /// first sequence number and timestamp (random per RFC 3550).
    pub fn new(spec: &TranscodeSpec, seed: u64) -> Result<Pipeline, Error> {
        let (rx, tx) = (spec.rx.kind, spec.tx.kind);
        // Opus runs at the other side's rate; a full-band Opus on both sides stays 48 kHz
        let dec_rate = match (rx, tx) {
            (CodecKind::Opus, t) => t.audio_rate(),
            (r, _) => r.audio_rate(),
        };
        // Opus from G.711 is encoded wideband (the 8 kHz audio upsampled by the half-band
        // FIR): measured WB-PESQ 2.46 at 8 kHz against 2.78 for rtpengine's 48 kHz encoding
        let enc_rate = match (tx, rx) {
            (CodecKind::Opus, _) => opus_fmtp(&spec.tx.fmtp).encoder_rate(dec_rate.max(16_000)),
            (t, _) => t.audio_rate(),
        };
        let dec = match rx {
            CodecKind::Pcmu => Dec::G711(Box::new(G711Decoder::new(Law::Mu))),
            CodecKind::Pcma => Dec::G711(Box::new(G711Decoder::new(Law::A))),
            CodecKind::Opus => Dec::Opus(Box::new(OpusDecoder::new(dec_rate)?)),
            CodecKind::AmrWb => {
                let f = amr_fmtp(&spec.rx.fmtp);
                if !f.supported() {
                    return Err(Error::BadParameter);
                }
                Dec::Amr(AmrwbDecoder::new()?)
            }
        };
        let enc = match tx {
            CodecKind::Pcmu => Enc::G711(G711Encoder::new(Law::Mu)),
            CodecKind::Pcma => Enc::G711(G711Encoder::new(Law::A)),
            CodecKind::Opus => {
                let f = opus_fmtp(&spec.tx.fmtp);
                Enc::Opus(Box::new(OpusEncoder::new(OpusConfig {
                    sample_rate: enc_rate,
                    bitrate: f.bitrate(spec.opus_bitrate),
                    complexity: spec.opus_complexity.min(10),
                    fec: f.useinbandfec,
                    packet_loss_pct: 0,
                    max_playback_rate: f.maxplaybackrate,
                    dtx: f.usedtx,
                    low_delay: spec.opus_low_delay,
                })?))
            }
            CodecKind::AmrWb => {
                let f = amr_fmtp(&spec.tx.fmtp);
                if !f.supported() {
                    return Err(Error::BadParameter);
                }
                let mut e = AmrwbEncoder::new(2)?;
                e.set_mode_set(f.mode_set)?;
                e.set_bitrate(spec.amrwb_bitrate)?;
                Enc::Amr(e, f.framing())
            }
        };
        let rate = match (dec_rate, enc_rate) {
            (a, b) if a == b => Rate::Same,
            (a, b) if b == 2 * a => Rate::Up(Box::default()),
            (a, b) if a == 2 * b => Rate::Down(Box::default()),
            (_, b) => return Err(Error::BadRate(b)),
        };
        let amr_in = (rx == CodecKind::AmrWb).then(|| amr_fmtp(&spec.rx.fmtp).framing());
        let jb = JitterBuffer::new(jitter::Config {
            clock_rate: rx.clock(),
            frame_ms: 20,
            slots: 50,
            // an Opus packet is at most 1275 octets per frame; AMR-WB storage frames 61
            max_payload: if rx == CodecKind::Opus { 1275 } else { 400 },
            ..jitter::Config::default()
        });
        Ok(Pipeline {
            jb,
            dec,
            enc,
            rate,
            amr_in,
            amr_payload: Box::default(),
            cmr_out: CMR_NONE,
            last_cmr_in: CMR_NONE,
            ssrc: (seed >> 32) as u32,
            seq: seed as u16,
            ts: (seed >> 16) as u32,
            out_step: frame_samples(tx.clock()) as u32,
            idle: IDLE_FRAMES,
            marker: true,
            dtmf_map: None,
            pcm: Box::new([0; MAX_FRAME_SAMPLES]),
            pcm2: Box::new([0; MAX_FRAME_SAMPLES]),
            stats: Stats::default(),
            spec: spec.clone(),
        })
    }

    pub fn spec(&self) -> &TranscodeSpec {
        &self.spec
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// What `query` shows of this direction.
    pub fn report(&self) -> crate::session::TranscodeReport {
        let j = self.jb.stats();
        let s = &self.stats;
        crate::session::TranscodeReport {
            codec_in: self.spec.rx.kind.name(),
            codec_out: self.spec.tx.kind.name(),
            frames_in: s.frames_in,
            frames_out: s.frames_out,
            concealed: s.concealed,
            errors: s.bad_payload + s.decode_errors + s.unknown_pt,
            dtmf_out: s.dtmf_out,
            jitter_target_ms: self.jb.target_ms(),
            added_delay_ms: (j.added_delay_us / j.played.max(1) / 1000) as u32,
        }
    }

    pub fn jitter_stats(&self) -> jitter::Stats {
        self.jb.stats()
    }

    pub fn jitter_target_ms(&self) -> u32 {
        self.jb.target_ms()
    }

    /// The other side's codec mode request, for an AMR-WB encoder (ignored otherwise).
    pub fn apply_cmr(&mut self, cmr: u8) {
        if let Enc::Amr(e, _) = &mut self.enc {
            e.apply_cmr(cmr);
        }
    }

    /// One received RTP packet (already authenticated and from the party), `payload` the
    /// bytes after its header (padding removed).
    pub fn push(&mut self, now: u64, h: &RtpHeader, payload: &[u8]) -> PushResult {
        let pt = h.payload_type;
        if pt == self.spec.rx.pt {
            return self.push_audio(now, h, payload);
        }
        if self.spec.rx_dtmf.is_some_and(|(p, _)| p == pt) {
            return PushResult::Dtmf;
        }
        if self.spec.rx_cn == Some(pt) || pt == 13 {
            // comfort noise: silence, concealed by the decoder as a pause
            self.stats.cn_packets += 1;
            return PushResult::Done;
        }
        self.stats.unknown_pt += 1;
        PushResult::Done
    }

    fn push_audio(&mut self, now: u64, h: &RtpHeader, payload: &[u8]) -> PushResult {
        match self.spec.rx.kind {
            CodecKind::AmrWb => {
                let framing = self.amr_in.unwrap_or(Framing::BandwidthEfficient);
                if amrwb_rtp::depacketize(payload, framing, &mut self.amr_payload).is_err() {
                    self.stats.bad_payload += 1;
                    return PushResult::Done;
                }
                let mut store = [0u8; 61];
                let n = self.amr_payload.count.min(amrwb_rtp::MAX_FRAMES);
                for i in 0..n {
                    let f = self.amr_payload.frames[i];
                    if f.ft == crate::codec::amrwb::FT_NO_DATA {
                        continue;
                    }
                    let len = f.to_storage(&mut store);
                    let ts = h.timestamp.wrapping_add(i as u32 * 320);
                    self.stats.frames_in += 1;
                    self.jb.push(now, h.sequence, ts, &store[..len]);
                }
                let cmr = self.amr_payload.cmr;
                if cmr != self.last_cmr_in {
                    self.last_cmr_in = cmr;
                    if cmr <= 8 {
                        return PushResult::Cmr(cmr);
                    }
                }
            }
            CodecKind::Pcmu | CodecKind::Pcma => {
                // 20 ms frames; a longer packet is split, a partial frame is not playable
                if payload.is_empty() || payload.len() % 160 != 0 || payload.len() > 160 * 8 {
                    self.stats.bad_payload += 1;
                    return PushResult::Done;
                }
                for (i, chunk) in payload.chunks(160).enumerate() {
                    self.stats.frames_in += 1;
                    self.jb.push(now, h.sequence, h.timestamp.wrapping_add(i as u32 * 160), chunk);
                }
            }
            CodecKind::Opus => {
                // one packet per 20 ms frame (what browsers send); a 1-2 octet DTX packet is
                // a pause, not a frame
                if payload.len() <= 2 {
                    self.stats.cn_packets += 1;
                    return PushResult::Done;
                }
                self.stats.frames_in += 1;
                if self.jb.push(now, h.sequence, h.timestamp, payload) == jitter::Push::BadSize {
                    self.stats.bad_payload += 1;
                }
            }
        }
        PushResult::Done
    }

    /// The re-timed copy of a telephone-event packet (`payload` its 4+ octets) into `out`;
    /// returns its length, or None if the other side has no telephone-event.
    pub fn dtmf(&mut self, h: &RtpHeader, payload: &[u8], out: &mut [u8]) -> Option<usize> {
        let (Some((_, rx_clock)), Some((tx_pt, tx_clock))) = (self.spec.rx_dtmf, self.spec.tx_dtmf) else {
            self.stats.dtmf_dropped += 1;
            return None;
        };
        if payload.len() < 4 || out.len() < RTP_HEADER + 4 {
            self.stats.bad_payload += 1;
            return None;
        }
        // a new event (new timestamp) starts at eagw's current output time
        let ts = match self.dtmf_map {
            Some((theirs, ours)) if theirs == h.timestamp => ours,
            _ => {
                self.dtmf_map = Some((h.timestamp, self.ts));
                self.ts
            }
        };
        let dur = u16::from_be_bytes([payload[2], payload[3]]) as u64 * tx_clock as u64 / rx_clock.max(1) as u64;
        self.header(out, tx_pt, h.marker, ts);
        out[RTP_HEADER] = payload[0];
        out[RTP_HEADER + 1] = payload[1];
        out[RTP_HEADER + 2..RTP_HEADER + 4].copy_from_slice(&(dur.min(0xffff) as u16).to_be_bytes());
        self.stats.dtmf_out += 1;
        Some(RTP_HEADER + 4)
    }

    fn header(&mut self, out: &mut [u8], pt: u8, marker: bool, ts: u32) {
        out[0] = 0x80;
        out[1] = pt & 0x7f | if marker { 0x80 } else { 0 };
        out[2..4].copy_from_slice(&self.seq.to_be_bytes());
        out[4..8].copy_from_slice(&ts.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.seq = self.seq.wrapping_add(1);
    }

    /// One frame period of playout at `now`: writes the RTP packet to send into `out`
    /// (at least [`MAX_PACKET`] octets) and returns its length; None when there is nothing
    /// to send (not started, paused, or the encoder's DTX).
    pub fn pull(&mut self, now: u64, out: &mut [u8]) -> Option<usize> {
        if out.len() < MAX_PACKET {
            return None;
        }
        let dec = self.dec.get();
        let res = match self.jb.pop(now) {
            Out::Waiting => return None,
            Out::Frame { payload, .. } => {
                self.idle = 0;
                let r = match dec.decode(Input::Frame(payload), &mut self.pcm[..]) {
                    Ok(n) => Ok(n),
                    Err(_) => {
                        self.stats.decode_errors += 1;
                        self.stats.concealed += 1;
                        dec.decode(Input::Lost, &mut self.pcm[..])
                    }
                };
                // more buffered than the target and this frame is silence: drop the next
                // one unheard (NetEQ's accelerate in a pause), rather than speech later
                if let Ok(n) = r {
                    if self.jb.excess_ms() >= 20 && is_quiet(&self.pcm[..n]) && self.jb.skip_next() {
                        self.stats.skipped_silence += 1;
                    }
                }
                r
            }
            Out::Lost { next, .. } => {
                self.idle = 0;
                self.stats.concealed += 1;
                dec.decode(next.map_or(Input::Lost, Input::LostWithNext), &mut self.pcm[..])
            }
            Out::Expand => {
                self.idle = self.idle.saturating_add(1);
                if self.idle > IDLE_FRAMES {
                    // the party stopped sending: pause; the next talkspurt is marked
                    self.marker = true;
                    self.ts = self.ts.wrapping_add(self.out_step);
                    return None;
                }
                self.stats.concealed += 1;
                dec.decode(Input::Lost, &mut self.pcm[..])
            }
        };
        let dec_rate = dec.sample_rate();
        let n = match res {
            Ok(n) if n == frame_samples(dec_rate) => n,
            _ => {
                // nothing usable (or a packet longer than 20 ms): a silent frame
                self.stats.decode_errors += 1;
                let n = frame_samples(dec_rate);
                self.pcm[..n].fill(0);
                n
            }
        };
        let pcm: &[i16] = match &mut self.rate {
            Rate::Same => &self.pcm[..n],
            Rate::Up(u) => {
                let k = u.process(&self.pcm[..n], &mut self.pcm2[..]);
                &self.pcm2[..k]
            }
            Rate::Down(d) => {
                let k = d.process(&self.pcm[..n], &mut self.pcm2[..]);
                &self.pcm2[..k]
            }
        };
        let ts = self.ts;
        self.ts = self.ts.wrapping_add(self.out_step);
        let (head, body) = out.split_at_mut(RTP_HEADER);
        let len = match &mut self.enc {
            Enc::Amr(e, framing) => {
                let mut store = [0u8; 64];
                match e.encode(pcm, &mut store) {
                    Ok(0) => Ok(0),
                    Ok(k) => amrwb_rtp::Frame::from_storage(&store[..k])
                        .and_then(|f| amrwb_rtp::packetize(self.cmr_out, &[f], *framing, body)),
                    Err(e) => Err(e),
                }
            }
            e => e.get().encode(pcm, body),
        };
        let len = match len {
            Ok(0) => {
                self.stats.dtx_frames += 1;
                self.marker = true;
                return None;
            }
            Ok(k) => k,
            Err(_) => {
                self.stats.encode_errors += 1;
                return None;
            }
        };
        let marker = std::mem::replace(&mut self.marker, false);
        let mut hdr = [0u8; RTP_HEADER];
        self.header(&mut hdr, self.spec.tx.pt, marker, ts);
        head.copy_from_slice(&hdr);
        self.stats.frames_out += 1;
        Some(RTP_HEADER + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{classify, Kind};

    const MS: u64 = 1_000_000;

    fn spec(rx: CodecKind, rx_pt: u8, tx: CodecKind, tx_pt: u8) -> TranscodeSpec {
        TranscodeSpec {
            rx: CodecSpec { pt: rx_pt, kind: rx, fmtp: String::new() },
            tx: CodecSpec { pt: tx_pt, kind: tx, fmtp: String::new() },
            rx_dtmf: Some((101, rx.clock())),
            tx_dtmf: Some((100, tx.clock())),
            rx_cn: Some(13),
            opus_complexity: 0,
            opus_low_delay: true,
            opus_bitrate: 64_000,
            amrwb_bitrate: 12_650,
        }
    }

    fn tone(rate: u32, start: usize) -> Vec<i16> {
        let n = frame_samples(rate);
        (start..start + n)
            .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 440.0 / rate as f64).sin() * 8000.0) as i16)
            .collect()
    }

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    fn hdr(p: &[u8]) -> RtpHeader {
        match classify(p) {
            Kind::Rtp(h) => h,
            k => panic!("{k:?}"),
        }
    }

    /// Feeds `frames` PCMU frames of a tone at 20 ms spacing, pulling every 20 ms; returns
    /// the packets that came out.
    fn run(p: &mut Pipeline, frames: u16, drop: impl Fn(u16) -> bool) -> Vec<Vec<u8>> {
        let mut out = vec![];
        let mut buf = [0u8; MAX_PACKET];
        for i in 0..frames {
            let now = 1_000 * MS + i as u64 * 20 * MS;
            if !drop(i) {
                let pcm = tone(8000, i as usize * 160);
                let mut enc = [0u8; 160];
                crate::codec::g711::encode_slice(Law::Mu, &pcm, &mut enc);
                let pkt = rtp(0, 1000 + i, 5000 + i as u32 * 160, &enc);
                assert_eq!(p.push(now, &hdr(&pkt), &pkt[12..]), PushResult::Done);
            }
            if let Some(n) = p.pull(now + 5 * MS, &mut buf) {
                out.push(buf[..n].to_vec());
            }
        }
        out
    }

    #[test]
    fn pcmu_to_amrwb_makes_continuous_rtp_of_our_own() {
        let mut p = Pipeline::new(&spec(CodecKind::Pcmu, 0, CodecKind::AmrWb, 96), 0x1234_5678_9abc_def0).unwrap();
        let out = run(&mut p, 50, |i| i == 20 || i == 21);
        assert!(out.len() >= 45, "{} packets", out.len());
        let hs: Vec<RtpHeader> = out.iter().map(|p| hdr(p)).collect();
        for w in hs.windows(2) {
            assert_eq!(w[1].sequence, w[0].sequence.wrapping_add(1));
            assert_eq!(w[1].timestamp, w[0].timestamp.wrapping_add(320));
            assert_eq!((w[1].ssrc, w[1].payload_type), (p.ssrc(), 96));
        }
        assert!(hs[0].marker && !hs[1].marker);
        // every payload is one AMR-WB 12.65 frame, bandwidth-efficient
        let mut pl = Payload::default();
        for pk in &out {
            amrwb_rtp::depacketize(&pk[12..], Framing::BandwidthEfficient, &mut pl).unwrap();
            assert_eq!((pl.count, pl.frames[0].ft), (1, 2));
        }
        // the gap is concealed (an underrun: the buffer then resumes at the next frame)
        assert!(p.stats.concealed >= 1, "{:?}", p.stats);
        assert_eq!(p.stats.frames_out, p.stats.frames_in + p.stats.concealed, "{:?}", p.stats);
    }

    #[test]
    fn amrwb_cmr_is_reported_and_obeyed() {
        // an AMR-WB packet asking for mode 0 (6.60)
        let mut rxp = Pipeline::new(&spec(CodecKind::AmrWb, 96, CodecKind::Pcma, 8), 1).unwrap();
        let mut e = AmrwbEncoder::new(2).unwrap();
        let mut store = [0u8; 64];
        let k = e.encode(&tone(16000, 0), &mut store).unwrap();
        let f = amrwb_rtp::Frame::from_storage(&store[..k]).unwrap();
        let mut pl = [0u8; 80];
        let n = amrwb_rtp::packetize(0, &[f], Framing::BandwidthEfficient, &mut pl).unwrap();
        let pkt = rtp(96, 1, 0, &pl[..n]);
        assert_eq!(rxp.push(0, &hdr(&pkt), &pkt[12..]), PushResult::Cmr(0));
        // the same CMR again is not news
        let pkt = rtp(96, 2, 320, &pl[..n]);
        assert_eq!(rxp.push(20 * MS, &hdr(&pkt), &pkt[12..]), PushResult::Done);
        let mut txp = Pipeline::new(&spec(CodecKind::Pcma, 8, CodecKind::AmrWb, 96), 2).unwrap();
        txp.apply_cmr(0);
        let out = run_pcma(&mut txp);
        let mut d = Payload::default();
        amrwb_rtp::depacketize(&out[12..], Framing::BandwidthEfficient, &mut d).unwrap();
        assert_eq!(d.frames[0].ft, 0);
    }

    fn run_pcma(p: &mut Pipeline) -> Vec<u8> {
        let mut buf = [0u8; MAX_PACKET];
        for i in 0..10u16 {
            let now = i as u64 * 20 * MS;
            let pkt = rtp(8, i, i as u32 * 160, &[0xd5; 160]);
            p.push(now, &hdr(&pkt), &pkt[12..]);
            if let Some(n) = p.pull(now + MS, &mut buf) {
                return buf[..n].to_vec();
            }
        }
        panic!("no output")
    }

    #[test]
    fn opus_round_trip_through_g711_keeps_the_tone() {
        // PCMA → Opus (8 kHz encoder), then Opus → PCMU: the tone survives
        let mut a = Pipeline::new(&spec(CodecKind::Pcma, 8, CodecKind::Opus, 111), 3).unwrap();
        let mut b = Pipeline::new(&spec(CodecKind::Opus, 111, CodecKind::Pcmu, 0), 4).unwrap();
        let mut buf = [0u8; MAX_PACKET];
        let mut buf2 = [0u8; MAX_PACKET];
        let mut energy = 0f64;
        for i in 0..60u16 {
            let now = i as u64 * 20 * MS;
            let mut enc = [0u8; 160];
            crate::codec::g711::encode_slice(Law::A, &tone(8000, i as usize * 160), &mut enc);
            let pkt = rtp(8, i, i as u32 * 160, &enc);
            a.push(now, &hdr(&pkt), &pkt[12..]);
            if let Some(n) = a.pull(now + MS, &mut buf) {
                let h = hdr(&buf[..n]);
                assert_eq!(h.payload_type, 111);
                b.push(now + 2 * MS, &h, &buf[12..n]);
            }
            if let Some(n) = b.pull(now + 3 * MS, &mut buf2) {
                assert_eq!(n, 12 + 160);
                if i > 30 {
                    let mut pcm = [0i16; 160];
                    crate::codec::g711::decode_slice(Law::Mu, &buf2[12..n], &mut pcm);
                    energy += pcm.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / 160.0;
                }
            }
        }
        let rms = (energy / 29.0).sqrt();
        assert!(rms > 3000.0, "rms {rms}");
    }

    #[test]
    fn dtmf_is_retimed_onto_our_clock_and_timeline() {
        let mut p = Pipeline::new(&spec(CodecKind::Opus, 111, CodecKind::Pcmu, 0), 5).unwrap();
        let mut out = [0u8; 64];
        // event 5, duration 960 at 48 kHz = 20 ms → 160 at 8 kHz
        let pkt = rtp(101 | 0x80, 7, 123_456, &[5, 10, 0x03, 0xc0]);
        let h = hdr(&pkt);
        assert_eq!(p.push(0, &h, &pkt[12..]), PushResult::Dtmf);
        let n = p.dtmf(&h, &pkt[12..], &mut out).unwrap();
        let o = hdr(&out[..n]);
        assert_eq!((o.payload_type, o.marker, o.ssrc), (100, true, p.ssrc()));
        assert_eq!(&out[12..16], &[5, 10, 0x00, 0xa0]);
        // the same event keeps its timestamp
        let pkt2 = rtp(101, 8, 123_456, &[5, 10, 0x07, 0x80]);
        let n2 = p.dtmf(&hdr(&pkt2), &pkt2[12..], &mut out).unwrap();
        let o2 = hdr(&out[..n2]);
        assert_eq!((o2.timestamp, o2.sequence), (o.timestamp, o.sequence.wrapping_add(1)));
        assert_eq!(&out[14..16], &[0x01, 0x40]);
        // no telephone-event on the other side: dropped and counted
        let mut s = spec(CodecKind::Opus, 111, CodecKind::Pcmu, 0);
        s.tx_dtmf = None;
        let mut q = Pipeline::new(&s, 6).unwrap();
        assert!(q.dtmf(&h, &pkt[12..], &mut out).is_none());
        assert_eq!(q.stats.dtmf_dropped, 1);
    }

    #[test]
    fn garbage_is_counted_and_concealed_never_a_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (rx, pt) in [(CodecKind::AmrWb, 96), (CodecKind::Opus, 111), (CodecKind::Pcmu, 0)] {
            let tx = if rx == CodecKind::Pcmu { CodecKind::Opus } else { CodecKind::Pcma };
            let mut p = Pipeline::new(&spec(rx, pt, tx, 8), rnd()).unwrap();
            let mut buf = [0u8; MAX_PACKET];
            for i in 0..400u64 {
                let len = (rnd() % 200) as usize;
                let body: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                let ts = if i % 7 == 0 { rnd() as u32 } else { i as u32 * 320 };
                let pkt = rtp(if i % 11 == 0 { (rnd() % 128) as u8 } else { pt }, rnd() as u16, ts, &body);
                let h = hdr(&pkt);
                if p.push(i * 20 * MS, &h, &pkt[12..]) == PushResult::Dtmf {
                    let mut o = [0u8; 64];
                    p.dtmf(&h, &pkt[12..], &mut o);
                }
                p.pull(i * 20 * MS + MS, &mut buf);
            }
            assert!(p.stats.bad_payload + p.stats.decode_errors + p.stats.unknown_pt > 0, "{rx:?} {:?}", p.stats);
        }
    }

    #[test]
    fn output_pauses_when_the_party_stops_and_resumes_marked() {
        let mut p = Pipeline::new(&spec(CodecKind::Pcmu, 0, CodecKind::Pcma, 8), 7).unwrap();
        let first = run(&mut p, 10, |_| false);
        assert!(!first.is_empty());
        let mut buf = [0u8; MAX_PACKET];
        let mut sent = 0;
        for i in 10..200u64 {
            if p.pull(1_000 * MS + i * 20 * MS, &mut buf).is_some() {
                sent += 1;
            }
        }
        assert!(sent <= IDLE_FRAMES as usize + 2, "{sent}");
    }
}
