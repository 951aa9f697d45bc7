//! Codecs for transcoding (sans-IO): one small trait for decoders and encoders of 20 ms
//! mono PCM frames, the codecs behind it, the RTP payload formats that need more than
//! "one frame = one payload" (AMR-WB per RFC 4867, Opus fmtp per RFC 7587) and the
//! resampler for the paths where the codec cannot change rate itself (G.711 ↔ AMR-WB).
//!
//! Nothing here does I/O or reads a clock: a decoder is fed one payload (or "lost"),
//! an encoder one frame of samples. Bad input is an [`Error`] value, never a panic.
//!
//! | codec | our code? | rates |
//! |---|---|---|
//! | G.711 A-law / µ-law ([`g711`]) | ours, bit-exact per ITU-T G.711 | 8 kHz |
//! | Opus ([`opus`]) | libopus through `audiopus` | 8, 16, 48 kHz directly (Opus resamples internally) |
//! | AMR-WB ([`amrwb`]) | libopencore-amrwb (decode), libvo-amrwbenc (encode) via FFI | 16 kHz |

pub mod amrwb;
pub mod amrwb_rtp;
pub mod g711;
pub mod opus;
pub mod opus_fmtp;
pub mod resample;

/// Every frame handled here lasts 20 ms.
pub const FRAME_MS: u32 = 20;

/// Samples in one 20 ms mono frame at `rate` Hz.
pub const fn frame_samples(rate: u32) -> usize {
    (rate / 50) as usize
}

/// The largest frame at any rate used here (48 kHz, 20 ms).
pub const MAX_FRAME_SAMPLES: usize = frame_samples(48_000);

/// What a decoder is given for one 20 ms frame.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// A received payload (one frame; for Opus one packet).
    Frame(&'a [u8]),
    /// The frame was lost: conceal it (packet loss concealment, AMR erasure).
    Lost,
    /// The frame was lost but the next packet has arrived: a codec with in-band FEC
    /// (Opus LBRR) rebuilds the lost frame from it; the others conceal as for `Lost`.
    /// The next packet must still be decoded normally afterwards.
    LostWithNext(&'a [u8]),
}

/// Why a frame could not be decoded or encoded. Each is worth a counter; none affects
/// anything but the frame at hand (a decoder conceals after an error if asked to).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Empty payload where a frame was expected.
    Empty,
    /// Payload shorter than its header says.
    Truncated,
    /// A frame type / mode the codec does not know (AMR-WB FT 10–13, ...).
    BadFrameType(u8),
    /// The output buffer cannot hold the frame (e.g. a 60 ms Opus packet into 20 ms).
    BufferTooSmall,
    /// Input samples are not exactly one 20 ms frame at the codec's rate.
    BadFrameSize,
    /// A rate the codec cannot run at.
    BadRate(u32),
    /// A parameter out of range (bitrate, mode, complexity).
    BadParameter,
    /// The payload is malformed (e.g. an invalid Opus packet).
    Corrupt,
    /// The codec library failed (allocation, internal error) with this code.
    Library(i32),
    /// More frames in one RTP payload than a receiver keeps ([`amrwb_rtp::MAX_FRAMES`]).
    TooManyFrames,
    /// Octets left over after the last frame of a payload.
    TrailingData,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Empty => write!(f, "empty payload"),
            Error::Truncated => write!(f, "truncated payload"),
            Error::BadFrameType(t) => write!(f, "unknown frame type {t}"),
            Error::BufferTooSmall => write!(f, "output buffer too small"),
            Error::BadFrameSize => write!(f, "input is not one 20 ms frame"),
            Error::BadRate(r) => write!(f, "unsupported sample rate {r}"),
            Error::BadParameter => write!(f, "parameter out of range"),
            Error::Corrupt => write!(f, "malformed payload"),
            Error::Library(c) => write!(f, "codec library error {c}"),
            Error::TooManyFrames => write!(f, "too many frames in one payload"),
            Error::TrailingData => write!(f, "octets after the last frame"),
        }
    }
}

impl std::error::Error for Error {}

/// A decoder of one mono stream into 16-bit PCM at [`Decoder::sample_rate`].
pub trait Decoder {
    /// Output sample rate (Hz).
    fn sample_rate(&self) -> u32;
    /// Decodes (or conceals) one frame into `out`, which must hold at least one 20 ms
    /// frame; returns the number of samples written (20 ms worth for every codec here,
    /// except an Opus packet longer than 20 ms when `out` has room for it). On `Err`
    /// nothing usable was written; the caller conceals with `Input::Lost` if it needs
    /// samples.
    fn decode(&mut self, input: Input<'_>, out: &mut [i16]) -> Result<usize, Error>;
}

/// An encoder of 20 ms mono 16-bit PCM frames at [`Encoder::sample_rate`].
pub trait Encoder {
    /// Input sample rate (Hz).
    fn sample_rate(&self) -> u32;
    /// Encodes exactly one 20 ms frame (`pcm.len() == frame_samples(sample_rate)`) into
    /// `out`; returns the payload length. With DTX on, a return of 0 means "send
    /// nothing for this frame" (silence); AMR-WB returns its one-byte NO_DATA frame.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error>;
    /// Sets the target bitrate in bit/s; returns the bitrate actually used (AMR-WB
    /// picks the highest mode not above it; Opus takes it as is within 6–510 kbit/s).
    fn set_bitrate(&mut self, bps: u32) -> Result<u32, Error>;
    /// Discontinuous transmission on or off.
    fn set_dtx(&mut self, on: bool) -> Result<(), Error>;
}
