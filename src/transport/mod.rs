//! Transports of a media stream between the socket and the relay: SRTP with keys from SDES
//! (RFC 4568) for IMS legs. ICE and DTLS-SRTP for WebRTC legs come next and hang off the
//! same per-socket state.

pub mod sdes;
pub mod srtp;
