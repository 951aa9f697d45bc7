//! Media handling on the packet path: RTP/RTCP recognition and endpoint learning for the
//! relay; for transcoded streams the adaptive jitter buffer (`jitter`) and the pipeline of
//! one direction (`transcode`: buffer → decoder → rate → encoder → RTP) and the DTMF it
//! renders or detects in audio (`dtmf`), and the splice that shortens audio when the buffer
//! shrinks (`stretch`). Codecs are in [`crate::codec`].

pub mod dtmf;
pub mod endpoint;
pub mod rtcp;
pub mod jitter;
pub mod rtp;
pub mod stretch;
pub mod transcode;
