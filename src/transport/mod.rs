//! Transports of a media stream between the socket and the relay: ICE-lite and DTLS-SRTP
//! for WebRTC legs, SRTP with keys from SDES (RFC 4568) for IMS legs. All sans-I/O: the
//! worker's socket table feeds them datagrams and time.

pub mod dtls;
pub mod ice;
pub mod ice_full;
pub mod sdes;
pub mod srtp;
pub mod srtp_rtp;
