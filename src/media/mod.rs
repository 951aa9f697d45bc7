//! Media handling on the packet path: RTP/RTCP recognition and endpoint learning for the
//! relay; the adaptive jitter buffer transcoded streams will use (`jitter`, not wired in
//! yet). Codecs are in [`crate::codec`]; transcoding pipelines arrive in later issues.

pub mod endpoint;
pub mod rtcp;
pub mod jitter;
pub mod rtp;
