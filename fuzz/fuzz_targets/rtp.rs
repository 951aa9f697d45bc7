#![no_main]
//! RTP/RTCP recognition on the relay path, and endpoint learning fed with the result.
use eagw::config::Learning;
use eagw::media::endpoint::Endpoint;
use eagw::media::rtp::{classify, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match classify(data) {
        Kind::Rtp(h) => assert!(h.payload_offset <= data.len()),
        Kind::Rtcp(_) | Kind::Invalid(_) => {}
    }
    // feed source ports taken from the input into a learning endpoint
    let mut e = Endpoint::new(Learning::Heuristic, 1000);
    e.set_sdp(Some("10.0.0.1:4000".parse().unwrap()));
    for (i, c) in data.chunks(3).enumerate() {
        let port = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
        let from = std::net::SocketAddr::new([10, 0, 0, *c.get(2).unwrap_or(&1)].into(), port);
        e.on_packet(from, i as u64 * 100);
        e.on_tick(i as u64 * 100);
    }
});
