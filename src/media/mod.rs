//! Media handling on the packet path: RTP/RTCP recognition and endpoint learning for the
//! relay. Codecs, jitter buffers and transcoding pipelines arrive here in later issues.

pub mod endpoint;
pub mod rtcp;
pub mod rtp;
