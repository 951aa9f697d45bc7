//! # eagw: the media plane of an IMS access gateway for WebRTC
//!
//! SIP proxies (Kamailio, OpenSIPS) drive eagw over rtpengine's ng protocol; eagw rewrites
//! the SDP so media flows through it, and relays RTP/RTCP between the two sides.
//!
//! ```text
//!   ng (UDP/TCP/HTTP)                         control thread (tokio, one runtime)
//!        │  decode bencode/JSON, flags → Options, cookie cache
//!        ▼  crossbeam channel + eventfd, to the worker owning the Call-ID
//!   ┌─ worker k (one per core, share-nothing) ──────────────────────────────────┐
//!   │  session: Call → Legs → MediaState (offer/answer, SDP rewrite)            │
//!   │  sockets: slab of UDP sockets, port pool slice, epoll (level-triggered)   │
//!   │                                                                           │
//!   │  packet: recvfrom ─► media::rtp::classify ─► media::endpoint (latch) ─►   │
//!   │          counters ─► sendto out of the paired socket to its peer          │
//!   └───────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! The protocol cores are sans-IO: [`sdp`] parses and writes text, [`session`] rewrites
//! SDP and asks a [`session::MediaSockets`] implementation for sockets, and
//! [`media::endpoint`] decides per packet with time as an input; [`codec`] holds the codecs,
//! payload formats and resampler for transcoding (not wired into the worker yet). Only
//! [`worker`] does I/O.

pub mod codec;
pub mod config;
pub mod control;
pub mod load;
pub mod media;
pub mod sdp;
pub mod session;
pub mod stats;
pub mod transport;
pub mod turn;
pub mod worker;
