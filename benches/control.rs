//! The control path: ng decode + flag parsing + dispatch of an offer/answer into the
//! session model (SDP parse, rewrite, serialise), and reply encoding.

use criterion::{criterion_group, criterion_main, Criterion};
use eagw::control::bencode::{self, DictBuilder, Value};
use eagw::control::flags::parse_options;
use eagw::session::testing::FakeSockets;
use eagw::session::{Call, Interfaces, MediaSockets};

const OFFER: &str = "v=0\r\no=- 3817328395 3817328395 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 16000 RTP/AVP 8 0 96 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:96 AMR-WB/16000\r\n\
a=fmtp:96 mode-change-capability=2;max-red=0\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

fn kamailio_offer(call: &str) -> Vec<u8> {
    let mut out = b"0_11697_2 ".to_vec();
    bencode::encode(
        &DictBuilder::new()
            .val("supports", Value::List(vec![Value::str("load limit")]))
            .str("sdp", OFFER)
            .val("replace", Value::List(vec![Value::str("origin")]))
            .str("call-id", call)
            .val("received-from", Value::List(vec![Value::str("IP4"), Value::str("127.0.0.1")]))
            .str("from-tag", "11819SIPpTag001")
            .str("command", "offer")
            .build(),
        &mut out,
    );
    out
}

fn control(c: &mut Criterion) {
    let msg = kamailio_offer("1-11819@127.0.0.1");
    c.bench_function("ng_decode_and_parse_flags", |b| {
        b.iter(|| {
            let (_, body) = eagw::control::server::split_cookie(&msg).unwrap();
            let (v, _) = eagw::control::server::decode_body(body).unwrap();
            parse_options(&v).unwrap()
        })
    });
    let ifaces = Interfaces { names: vec!["access".into(), "core".into()], families: vec![(true, true), (true, true)], fingerprint: "sha-256 00".into() };
    let mut socks = FakeSockets::default();
    c.bench_function("ng_offer_decode_dispatch_rewrite_encode", |b| {
        b.iter(|| {
            let (_, body) = eagw::control::server::split_cookie(&msg).unwrap();
            let (v, _) = eagw::control::server::decode_body(body).unwrap();
            let o = parse_options(&v).unwrap();
            let mut call = Call::new(&o.call_id, eagw::session::call::default_learn(), 0);
            let sdp = call.offer(&o, &ifaces, &mut socks, 0).unwrap();
            let mut out = Vec::with_capacity(1024);
            bencode::encode(&DictBuilder::new().str("result", "ok").str("sdp", sdp).build(), &mut out);
            call.close(&mut socks as &mut dyn MediaSockets);
            out
        })
    });
    let ans = OFFER.replace("192.0.2.10", "198.51.100.7");
    c.bench_function("sdp_offer_answer_rewrite", |b| {
        b.iter(|| {
            let (o, a) = eagw::session::testing::offer_answer_options(OFFER, &ans);
            let mut call = Call::new("c", eagw::session::call::default_learn(), 0);
            let x = call.offer(&o, &ifaces, &mut socks, 0).unwrap();
            let y = call.answer(&a, &ifaces, &mut socks, 1).unwrap();
            call.close(&mut socks);
            (x, y)
        })
    });
}

criterion_group!(benches, control);
criterion_main!(benches);
