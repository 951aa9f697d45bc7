//! Offer/answer state machine tests, without sockets.

use super::call::default_learn;
use super::testing::FakeSockets;
use super::*;
use crate::sdp;

fn ifaces() -> Interfaces {
    Interfaces { names: vec!["access".into(), "core".into()], families: vec![(true, true), (true, false)], fingerprint: "sha-256 00".into() }
}

const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 97 101\r\na=rtpmap:97 AMR-WB/16000\r\na=fmtp:97 octet-align=1\r\na=rtpmap:101 telephone-event/8000\r\n\
a=ice-ufrag:abcd\r\na=ice-pwd:0123456789012345678901\r\na=candidate:1 1 UDP 2130706431 192.0.2.10 49170 typ host\r\na=rtcp-mux\r\na=sendrecv\r\n";

const ANSWER: &str = "v=0\r\no=bob 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=recvonly\r\n";

fn opts(from: &str, to: Option<&str>, sdp: &str) -> Options {
    Options {
        call_id: "call".into(),
        from_tag: from.into(),
        to_tag: to.map(Into::into),
        sdp: Some(sdp.into()),
        ..Default::default()
    }
}

fn setup() -> (Call, FakeSockets) {
    (Call::new("call", default_learn(), 0), FakeSockets::default())
}

fn media(s: &str) -> sdp::Media {
    sdp::parse(s).unwrap().media.remove(0)
}

#[test]
fn offer_rewrites_addresses_ports_and_strips_ice() {
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.replace_origin = true;
    o.to_interface = Some("core".into());
    o.ice = IceMode::Remove;
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let p = sdp::parse(&out).unwrap();
    assert_eq!(p.session_connection().unwrap().address, "10.0.0.2"); // the core interface
    assert!(out.contains("o=alice 2890844526 2890844526 IN IP4 10.0.0.2"));
    let m = &p.media[0];
    let b_rtp = c.legs[1].medias[0].rtp.unwrap();
    assert_eq!(m.port, b_rtp.bound.port());
    assert!(!out.contains("ice-") && !out.contains("candidate"));
    // rtcp-mux is passed through by default, with a=rtcp for the separate port too
    assert!(m.has_attr("rtcp-mux"));
    let rtcp = sdp::parse_rtcp_attr(m.attr("rtcp").unwrap()).unwrap();
    assert_eq!(rtcp.port, b_rtp.bound.port() + 1);
    assert_eq!(m.formats, vec!["0", "8", "97", "101"]);
    assert!(m.has_attr("sendrecv"));
    // leg A knows its peer from the SDP; sockets: A rtp+rtcp, B rtp+rtcp
    assert_eq!(c.legs[0].medias[0].remote, Some("192.0.2.10:49170".parse().unwrap()));
    assert_eq!(s.open_count(), 4);
}

#[test]
fn answer_goes_back_with_our_a_side_ports_and_wires_both_ways() {
    let (mut c, mut s) = setup();
    c.offer(&opts("a", None, OFFER), &ifaces(), &mut s, 0).unwrap();
    let out = c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap();
    let m = media(&out);
    let a = &c.legs[0].medias[0];
    let b = &c.legs[1].medias[0];
    assert_eq!(m.port, a.rtp.unwrap().bound.port());
    assert!(m.has_attr("recvonly"));
    assert_eq!(c.legs[1].tag, "b");
    // the answerer did not accept rtcp-mux, so neither side gets it
    assert!(!m.has_attr("rtcp-mux"));
    let wa = &s.wiring[&a.rtp.unwrap().handle];
    assert_eq!(wa.fwd_rtp, Some(b.rtp.unwrap().handle));
    assert_eq!(wa.fwd_rtcp, Some(b.rtcp.unwrap().handle));
    // the offerer does ICE: its address is what it nominates, not the SDP's
    assert_eq!(wa.peer, None);
    assert_eq!(wa.ice.as_ref().map(|i| &i.local), a.ice_local.as_ref());
    assert!(wa.ice.as_ref().unwrap().full.is_none(), "lite towards a full browser");
    assert!(a.ice_local.is_some() && out.contains("a=ice-lite") && out.contains("typ host"));
    let wb = &s.wiring[&b.rtp.unwrap().handle];
    assert_eq!(wb.fwd_rtp, Some(a.rtp.unwrap().handle));
    assert_eq!(wb.peer, Some("198.51.100.7:5004".parse().unwrap()));
    let wbc = &s.wiring[&b.rtcp.unwrap().handle];
    assert_eq!(wbc.peer, Some("198.51.100.7:5005".parse().unwrap()));
    assert!(wbc.rtcp_only);
}

#[test]
fn rtcp_mux_demux_and_require() {
    // demux: the offerer gets mux accepted, the answerer is offered plain RTCP
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.rtcp_mux.demux = true;
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    assert!(!media(&out).has_attr("rtcp-mux"));
    let mut a = opts("a", Some("b"), ANSWER);
    a.rtcp_mux.demux = true;
    let out = c.answer(&a, &ifaces(), &mut s, 1).unwrap();
    let m = media(&out);
    assert!(m.has_attr("rtcp-mux"));
    let arp = c.legs[0].medias[0].rtp.unwrap();
    assert_eq!(sdp::parse_rtcp_attr(m.attr("rtcp").unwrap()).unwrap().port, arp.bound.port());
    // RTCP from B goes to A's RTP socket (muxed)
    let b_rtcp = c.legs[1].medias[0].rtcp.unwrap().handle;
    assert_eq!(s.wiring[&b_rtcp].fwd_rtcp, Some(arp.handle));

    // require: no separate RTCP port towards the answerer at all
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, ANSWER);
    o.rtcp_mux.require = true;
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let m = media(&out);
    assert!(m.has_attr("rtcp-mux"));
    assert!(c.legs[1].medias[0].rtcp.is_none());
    assert_eq!(sdp::parse_rtcp_attr(m.attr("rtcp").unwrap()).unwrap().port, m.port);

    // reject: mux removed from the offer and never accepted
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.rtcp_mux.reject = true;
    assert!(!media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap()).has_attr("rtcp-mux"));
    let ans = ANSWER.replace("a=recvonly", "a=rtcp-mux");
    let mut a = opts("a", Some("b"), &ans);
    a.rtcp_mux.reject = true;
    assert!(!media(&c.answer(&a, &ifaces(), &mut s, 1).unwrap()).has_attr("rtcp-mux"));
}

#[test]
fn codec_strip_mask_offer() {
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.codec_strip = vec!["PCMU".into(), "amr-wb".into()];
    let m = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!(m.formats, vec!["8", "101"]);
    assert!(m.rtpmap("97").is_none() && !m.attrs("fmtp").any(|f| f.starts_with("97 ")));

    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.codec_strip = vec!["all".into()];
    o.codec_offer = vec!["telephone-event".into(), "PCMA/8000".into()];
    let m = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!(m.formats, vec!["101", "8"]);

    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.codec_mask = vec!["all".into()];
    let e = c.offer(&o, &ifaces(), &mut s, 0).unwrap_err();
    assert!(e.reason.contains("no codec"), "{e}");
}

#[test]
fn forked_answers_by_via_branch_and_to_tag() {
    let (mut c, mut s) = setup();
    let mut o1 = opts("a", None, OFFER);
    o1.via_branch = Some("z9hG4bK-1".into());
    let out1 = c.offer(&o1, &ifaces(), &mut s, 0).unwrap();
    let mut o2 = opts("a", None, OFFER);
    o2.via_branch = Some("z9hG4bK-2".into());
    let out2 = c.offer(&o2, &ifaces(), &mut s, 0).unwrap();
    // two branches, two sets of ports towards the callees
    assert_ne!(media(&out1).port, media(&out2).port);
    assert_eq!(c.legs.len(), 3);
    // branch 2 answers: the caller is wired to branch 2's sockets
    let mut a2 = opts("a", Some("b2"), ANSWER);
    a2.via_branch = Some("z9hG4bK-2".into());
    c.answer(&a2, &ifaces(), &mut s, 1).unwrap();
    let b2 = c.find_leg("b2").unwrap();
    assert_eq!(c.legs[b2].via_branch.as_deref(), Some("z9hG4bK-2"));
    assert_eq!(c.legs[b2].medias[0].rtp.unwrap().bound.port(), media(&out2).port);
    let a_rtp = c.legs[0].medias[0].rtp.unwrap().handle;
    assert_eq!(s.wiring[&a_rtp].fwd_rtp, Some(c.legs[b2].medias[0].rtp.unwrap().handle));
    // a second 200 OK from another fork downstream of the same branch: last answer wins
    let mut a3 = opts("a", Some("b3"), &ANSWER.replace("198.51.100.7", "198.51.100.8"));
    a3.via_branch = Some("z9hG4bK-2".into());
    c.answer(&a3, &ifaces(), &mut s, 2).unwrap();
    assert_eq!(c.find_leg("b3"), Some(b2));
    assert_eq!(c.legs[b2].aliases, vec!["b2"]);
    assert_eq!(c.legs[b2].medias[0].remote, Some("198.51.100.8:5004".parse().unwrap()));
}

#[test]
fn reoffer_keeps_ports_and_hold_is_carried() {
    let (mut c, mut s) = setup();
    let first = media(&c.offer(&opts("a", None, OFFER), &ifaces(), &mut s, 0).unwrap());
    c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap();
    // re-INVITE from the callee (from-tag b, to-tag a) putting the call on hold
    let hold = ANSWER.replace("a=recvonly", "a=sendonly");
    let out = c.offer(&opts("b", Some("a"), &hold), &ifaces(), &mut s, 2).unwrap();
    let m = media(&out);
    assert!(m.has_attr("sendonly"));
    assert_eq!(m.port, c.legs[0].medias[0].rtp.unwrap().bound.port());
    // the original offerer's re-offer keeps the same port towards the callee
    let again = media(&c.offer(&opts("a", Some("b"), OFFER), &ifaces(), &mut s, 3).unwrap());
    assert_eq!(again.port, first.port);
    assert_eq!(s.open_count(), 4);
    // old-style hold: c=0.0.0.0 stays zero and the peer address is forgotten
    let zero = OFFER.replace("c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0");
    let out = c.offer(&opts("a", Some("b"), &zero), &ifaces(), &mut s, 4).unwrap();
    assert!(out.contains("c=IN IP4 0.0.0.0"));
    assert_eq!(c.legs[0].medias[0].remote, None);
}

#[test]
fn transport_protocol_and_errors() {
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, &OFFER.replace("RTP/AVP", "RTP/AVPF"));
    o.transport_protocol = Some("RTP/AVP".into());
    let m = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!(m.proto, "RTP/AVP");
    let m = media(&c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap());
    assert_eq!(m.proto, "RTP/AVPF", "the offerer gets its own protocol back");

    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.transport_protocol = Some("UDP/TLS/RTP/SAVPF".into());
    let m = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!((m.attr("setup"), m.attr("fingerprint")), (Some("actpass"), Some("sha-256 00")));
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, &OFFER.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF"));
    o.transport_protocol = Some("RTP/AVP".into());
    assert!(c.offer(&o, &ifaces(), &mut s, 0).unwrap_err().reason.contains("fingerprint"), "DTLS offer without a=fingerprint");
    let mut o = opts("a", None, &OFFER.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF"));
    o.transport_protocol = Some("UDP/TLS/RTP/SAVP".into());
    assert!(c.offer(&o, &ifaces(), &mut s, 0).unwrap_err().reason.contains("end to end"));
    let mut o = opts("a", None, OFFER);
    o.transport_protocol = Some("RTP/XYZ".into());
    assert!(c.offer(&o, &ifaces(), &mut s, 0).is_err());
    // TLS but no RTP (BFCP, or a mangled profile): not DTLS-SRTP, not made RTP/AVP
    let bfcp = OFFER.replace("RTP/AVP 0 8 97 101", "TCP/TLS/BFCP *").replace("a=sendrecv", "a=fingerprint:sha-256 5C:1F:2E:4A:9B:0D:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA");
    let mut o = opts("a", None, &bfcp);
    o.transport_protocol = Some("RTP/AVP".into());
    assert!(c.offer(&o, &ifaces(), &mut s, 0).unwrap_err().reason.contains("not supported"));
    let mut o = opts("a", None, OFFER);
    o.to_interface = Some("nowhere".into());
    assert!(c.offer(&o, &ifaces(), &mut s, 0).unwrap_err().reason.contains("interface"));
    assert!(c.offer(&opts("a", None, "garbage"), &ifaces(), &mut s, 0).unwrap_err().reason.contains("SDP"));
    // an answer with a different number of m= lines
    c.offer(&opts("a", None, OFFER), &ifaces(), &mut s, 0).unwrap();
    let two = format!("{ANSWER}m=video 0 RTP/AVP 96\r\n");
    assert!(c.answer(&opts("a", Some("b"), &two), &ifaces(), &mut s, 1).is_err());
}

#[test]
fn ipv6_and_address_family() {
    let (mut c, mut s) = setup();
    let v6 = OFFER.replace("IN IP4 192.0.2.10", "IN IP6 2001:db8::10");
    let mut o = opts("a", None, &v6);
    o.address_family = Some(sdp::Family::Ip4);
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    assert!(out.contains("c=IN IP4 10.0.0.1"), "{out}");
    assert_eq!(c.legs[0].medias[0].family, sdp::Family::Ip6);
    let out = c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap();
    assert!(out.contains("c=IN IP6 2001:db8::1"), "{out}");
}

#[test]
fn close_releases_everything() {
    let (mut c, mut s) = setup();
    c.offer(&opts("a", None, OFFER), &ifaces(), &mut s, 0).unwrap();
    c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap();
    c.close(&mut s);
    assert_eq!(s.open_count(), 0);
}

#[test]
fn sdes_towards_an_ims_srtp_leg() {
    use crate::transport::sdes;
    // plain caller, SRTP callee: eagw offers a=crypto (its keys), takes the callee's key
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, ANSWER);
    o.transport_protocol = Some("RTP/SAVP".into());
    let m = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!(m.proto, "RTP/SAVP");
    let ours: Vec<_> = m.attrs("crypto").map(|v| sdes::parse_crypto(v).unwrap()).collect();
    assert_eq!(ours.len(), 2);
    assert_eq!(ours[0].key.suite, sdes::Suite::AesCm128HmacSha1_80);
    let b_rtp = c.legs[1].medias[0].rtp.unwrap().handle;
    assert_eq!(s.wiring[&b_rtp].crypt, Crypt::Srtp { rx: None, tx: None }, "nothing passes before the answer");
    // the callee takes tag 2 and sends its own key
    let theirs = sdes::Crypto { tag: 2, key: sdes::SrtpKey::generate(sdes::Suite::AesCm128HmacSha1_32).unwrap() };
    let ans = ANSWER.replace("RTP/AVP", "RTP/SAVP").replace("a=recvonly\r\n", &format!("a={}\r\n", sdes::format_crypto(&theirs)));
    let out = c.answer(&opts("a", Some("b"), &ans), &ifaces(), &mut s, 1).unwrap();
    let m = media(&out);
    assert_eq!(m.proto, "RTP/AVP", "the caller gets plain RTP");
    assert!(!m.has_attr("crypto"));
    assert_eq!(s.wiring[&b_rtp].crypt, Crypt::Srtp { rx: Some(theirs.key.clone()), tx: Some(ours[1].key.clone()) });
    let a_rtp = c.legs[0].medias[0].rtp.unwrap().handle;
    assert_eq!(s.wiring[&a_rtp].crypt, Crypt::Plain);
    // an answer without a matching a=crypto is refused
    let (mut c, mut s) = setup();
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let bad = ANSWER.replace("RTP/AVP", "RTP/SAVP");
    assert!(c.answer(&opts("a", Some("b"), &bad), &ifaces(), &mut s, 1).unwrap_err().reason.contains("crypto"));

    // SRTP caller, plain callee: eagw answers the caller with its own key for the suite
    let (mut c, mut s) = setup();
    let k = sdes::Crypto { tag: 7, key: sdes::SrtpKey::generate(sdes::Suite::AesCm128HmacSha1_80).unwrap() };
    let srtp_offer = ANSWER.replace("RTP/AVP", "RTP/SAVP").replace("a=recvonly\r\n", &format!("a={}\r\n", sdes::format_crypto(&k)));
    let mut o = opts("a", None, &srtp_offer);
    o.transport_protocol = Some("RTP/AVP".into());
    let m = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!(m.proto, "RTP/AVP");
    assert!(!m.has_attr("crypto"));
    let m = media(&c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap());
    assert_eq!(m.proto, "RTP/SAVP");
    let ours = sdes::parse_crypto(m.attr("crypto").unwrap()).unwrap();
    assert_eq!((ours.tag, ours.key.suite), (7, sdes::Suite::AesCm128HmacSha1_80));
    assert_ne!(ours.key, k.key);
    let a_rtp = c.legs[0].medias[0].rtp.unwrap().handle;
    assert_eq!(s.wiring[&a_rtp].crypt, Crypt::Srtp { rx: Some(k.key), tx: Some(ours.key) });
}

/// A browser's offer, trimmed: BUNDLE, mid, ICE, DTLS actpass, rtcp-mux, PCMU/PCMA.
const BROWSER_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2122260223 127.0.0.1 53000 typ host generation 0\r\na=ice-ufrag:Brws\r\na=ice-pwd:browserpassword012345678\r\n\
a=ice-options:trickle\r\na=fingerprint:sha-256 5C:1F:2E:4A:9B:0D:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA\r\n\
a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n";

const IMS_ANSWER: &str = "v=0\r\no=ims 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 0 126\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n";

fn webrtc_to_ims() -> Options {
    let mut o = opts("a", None, BROWSER_OFFER);
    o.ice = IceMode::Remove;
    o.dtls = DtlsMode::Off;
    o.transport_protocol = Some("RTP/AVP".into());
    o.rtcp_mux.demux = true;
    o
}

#[test]
fn browser_offer_terminates_ice_and_dtls_towards_ims() {
    let (mut c, mut s) = setup();
    let out = c.offer(&webrtc_to_ims(), &ifaces(), &mut s, 0).unwrap();
    // the IMS side sees plain RTP: no ICE, DTLS, BUNDLE or mux
    for gone in ["ice-", "candidate", "fingerprint", "setup", "BUNDLE", "rtcp-mux", "tls-id"] {
        assert!(!out.contains(gone), "{gone} in {out}");
    }
    assert!(media(&out).proto == "RTP/AVP");
    // the browser's c=0.0.0.0 (port 9) is ICE's placeholder, not hold: IMS sends to eagw
    let b_rtp = c.legs[1].medias[0].rtp.unwrap();
    let p = sdp::parse(&out).unwrap();
    assert_eq!(p.media[0].connection().unwrap().address, b_rtp.advertised.to_string(), "{out}");
    let mut a = opts("a", Some("b"), IMS_ANSWER);
    a.rtcp_mux.require = true;
    let back = c.answer(&a, &ifaces(), &mut s, 1).unwrap();
    let p = sdp::parse(&back).unwrap();
    let m = &p.media[0];
    let ma = &c.legs[0].medias[0];
    let ours = ma.ice_local.clone().unwrap();
    assert_eq!(m.proto, "UDP/TLS/RTP/SAVPF");
    assert!(p.session.iter().any(|l| l.attr() == Some(("ice-lite", ""))));
    assert_eq!((m.attr("ice-ufrag"), m.attr("ice-pwd")), (Some(ours.ufrag.as_str()), Some(ours.pwd.as_str())));
    let rtp = ma.rtp.unwrap();
    assert_eq!(m.attrs("candidate").collect::<Vec<_>>(), vec![&crate::transport::ice::host_candidate(1, rtp.bound)["candidate:".len()..]]);
    assert_eq!((m.attr("setup"), m.attr("fingerprint"), m.attr("mid")), (Some("active"), Some("sha-256 00"), Some("0")));
    assert!(m.has_attr("rtcp-mux") && m.has_attr("tls-id"));
    // the browser's socket: ICE decides the address, eagw is the DTLS client
    let w = &s.wiring[&rtp.handle];
    assert_eq!((w.peer, w.ice.as_ref().map(|i| &i.local)), (None, Some(&ours)));
    let Crypt::Dtls { client, remote, epoch } = &w.crypt else { panic!("{:?}", w.crypt) };
    assert!(*client && remote.is_some() && *epoch == 0);
    // the IMS socket is plain RTP to the SDP address
    let wb = &s.wiring[&c.legs[1].medias[0].rtp.unwrap().handle];
    assert_eq!((wb.ice.as_ref(), &wb.crypt, wb.peer), (None, &Crypt::Plain, Some("198.51.100.7:5004".parse().unwrap())));

    // DTLS=passive: eagw answers passive and waits as the server
    let (mut c, mut s) = setup();
    let mut o = webrtc_to_ims();
    o.dtls = DtlsMode::Passive;
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let m = media(&c.answer(&opts("a", Some("b"), IMS_ANSWER), &ifaces(), &mut s, 1).unwrap());
    assert_eq!(m.attr("setup"), Some("passive"));
    assert!(matches!(s.wiring[&c.legs[0].medias[0].rtp.unwrap().handle].crypt, Crypt::Dtls { client: false, .. }));
}

#[test]
fn ice_restart_and_new_dtls_association_on_reoffer() {
    let (mut c, mut s) = setup();
    c.offer(&webrtc_to_ims(), &ifaces(), &mut s, 0).unwrap();
    c.answer(&opts("a", Some("b"), IMS_ANSWER), &ifaces(), &mut s, 1).unwrap();
    let first = c.legs[0].medias[0].ice_local.clone().unwrap();
    // the same offer again: same credentials, same association
    c.offer(&webrtc_to_ims(), &ifaces(), &mut s, 2).unwrap();
    assert_eq!(c.legs[0].medias[0].ice_local.as_ref(), Some(&first));
    // new ufrag/pwd from the browser: eagw restarts too (RFC 8445 §9); DTLS stays
    let mut o = webrtc_to_ims();
    o.sdp = Some(BROWSER_OFFER.replace("ice-ufrag:Brws", "ice-ufrag:Brw2").replace("browserpassword", "browserPASSWORD"));
    c.offer(&o, &ifaces(), &mut s, 3).unwrap();
    let ma = &c.legs[0].medias[0];
    assert_ne!(ma.ice_local.as_ref(), Some(&first));
    assert_eq!(ma.dtls.as_ref().unwrap().epoch, 0);
    // a new tls-id (RFC 8842) or fingerprint: a new association
    let mut o = webrtc_to_ims();
    o.sdp = Some(BROWSER_OFFER.replace("a=mid:0", "a=mid:0\r\na=tls-id:abc123"));
    c.offer(&o, &ifaces(), &mut s, 4).unwrap();
    o.sdp = Some(BROWSER_OFFER.replace("a=mid:0", "a=mid:0\r\na=tls-id:def456"));
    c.offer(&o, &ifaces(), &mut s, 5).unwrap();
    assert!(c.legs[0].medias[0].dtls.as_ref().unwrap().epoch >= 1);
}

#[test]
fn ims_offer_to_browser_offers_ice_lite_and_dtls_actpass() {
    let (mut c, mut s) = setup();
    let mut o = opts("b", None, IMS_ANSWER);
    o.ice = IceMode::Force;
    o.transport_protocol = Some("UDP/TLS/RTP/SAVPF".into());
    o.rtcp_mux.offer = true;
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let m = media(&out);
    assert!(out.contains("a=ice-lite"));
    assert_eq!((m.proto.as_str(), m.attr("setup")), ("UDP/TLS/RTP/SAVPF", Some("actpass")));
    assert!(m.has_attr("rtcp-mux") && m.has_attr("ice-ufrag") && m.attrs("candidate").count() == 2, "{out}");
    // the browser answers active: eagw is the server
    let mut browser = BROWSER_OFFER.replace("a=setup:actpass", "a=setup:active");
    browser = browser.replace("a=group:BUNDLE 0\r\n", "");
    let mut a = opts("b", Some("a"), &browser);
    a.ice = IceMode::Remove;
    a.transport_protocol = Some("RTP/AVP".into());
    a.rtcp_mux.demux = true;
    let back = c.answer(&a, &ifaces(), &mut s, 1).unwrap();
    assert!(!back.contains("ice-") && !back.contains("fingerprint"), "{back}");
    let mb = &c.legs[1].medias[0];
    assert_eq!(mb.ice_remote.as_ref().map(|c| c.ufrag.as_str()), Some("Brws"));
    let w = &s.wiring[&mb.rtp.unwrap().handle];
    assert!(matches!(&w.crypt, Crypt::Dtls { client: false, remote: Some(_), .. }), "{:?}", w.crypt);
    assert!(w.ice.is_some() && w.peer.is_none());
    // an answer refusing DTLS is an error
    let (mut c, mut s) = setup();
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    assert!(c.answer(&opts("b", Some("a"), IMS_ANSWER), &ifaces(), &mut s, 1).unwrap_err().reason.contains("DTLS"));
}

#[test]
fn full_ice_towards_a_lite_party_and_on_request() {
    // the IMS side is an ICE-lite gateway: eagw must run full ICE and control
    let (mut c, mut s) = setup();
    let lite_offer = OFFER.replace("s=-\r\n", "s=-\r\na=ice-lite\r\n");
    let mut o = opts("a", None, &lite_offer);
    o.ice = IceMode::Remove;
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let back = c.answer(&opts("a", Some("b"), ANSWER), &ifaces(), &mut s, 1).unwrap();
    assert!(!back.contains("a=ice-lite") && back.contains("a=ice-ufrag"), "{back}");
    let w = &s.wiring[&c.legs[0].medias[0].rtp.unwrap().handle];
    let full = w.ice.as_ref().unwrap().full.as_ref().expect("full agent");
    assert!(full.controlling);
    assert_eq!(full.remote.ufrag, "abcd");
    assert_eq!(full.candidates, vec!["1 1 UDP 2130706431 192.0.2.10 49170 typ host".to_string()]);

    // ICE-lite=off towards a full browser: full, and the browser (offerer) controls
    let (mut c, mut s) = setup();
    let mut o = webrtc_to_ims();
    o.ice_full = true;
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let back = c.answer(&opts("a", Some("b"), IMS_ANSWER), &ifaces(), &mut s, 1).unwrap();
    assert!(!back.contains("a=ice-lite"));
    let w = &s.wiring[&c.legs[0].medias[0].rtp.unwrap().handle];
    assert!(!w.ice.as_ref().unwrap().full.as_ref().unwrap().controlling);

    // eagw offers ICE lite; the answerer turns out lite too: eagw turns full, controlling
    let (mut c, mut s) = setup();
    let mut o = opts("b", None, IMS_ANSWER);
    o.ice = IceMode::Force;
    assert!(c.offer(&o, &ifaces(), &mut s, 0).unwrap().contains("a=ice-lite"));
    c.answer(&opts("b", Some("a"), &lite_offer), &ifaces(), &mut s, 1).unwrap();
    let w = &s.wiring[&c.legs[1].medias[0].rtp.unwrap().handle];
    assert!(w.ice.as_ref().unwrap().full.as_ref().unwrap().controlling);
}

#[test]
fn generate_rtcp_wires_a_report_per_party_and_can_be_turned_off() {
    // A muxed (demux flag: A keeps mux, B gets separate RTCP), generate-RTCP on the offer
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, OFFER);
    o.rtcp_mux.demux = true;
    o.generate_rtcp = Some(true);
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let mut a = opts("a", Some("b"), ANSWER);
    a.rtcp_mux.demux = true;
    c.answer(&a, &ifaces(), &mut s, 1).unwrap();
    let (ma, mb) = (&c.legs[0].medias[0], &c.legs[1].medias[0]);
    let (a_rtp, b_rtp, b_rtcp) = (ma.rtp.unwrap().handle, mb.rtp.unwrap().handle, mb.rtcp.unwrap().handle);
    // A's reports leave by its RTP socket (mux), B's by B's RTCP socket, which feeds B's state
    let Some(RtcpGen::Report { out, clocks }) = &s.wiring[&a_rtp].rtcp_gen else { panic!("{:?}", s.wiring[&a_rtp]) };
    assert_eq!(*out, a_rtp);
    // A's payload types (AMR-WB 16 kHz, static PCMU/PCMA) after B's
    let clock = |pt: u8| clocks.iter().rev().find(|c| c.0 == pt).map(|c| c.1);
    assert_eq!((clock(0), clock(8), clock(97), clock(101), clock(55)), (Some(8000), Some(8000), Some(16000), Some(8000), None));
    assert!(matches!(&s.wiring[&b_rtp].rtcp_gen, Some(RtcpGen::Report { out, .. }) if *out == b_rtcp));
    assert_eq!(s.wiring[&b_rtcp].rtcp_gen, Some(RtcpGen::Consume { owner: b_rtp }));
    // a re-offer without the flag keeps it; `generate RTCP: off` ends it
    let mut o = opts("a", Some("b"), OFFER);
    c.offer(&o, &ifaces(), &mut s, 2).unwrap();
    assert!(s.wiring[&a_rtp].rtcp_gen.is_some());
    o.generate_rtcp = Some(false);
    c.offer(&o, &ifaces(), &mut s, 3).unwrap();
    assert!(s.wiring.values().all(|w| w.rtcp_gen.is_none()));
}

/// `ICE=force-relay`: eagw still terminates ICE and DTLS, and writes its one candidate per
/// component as `typ relay` (type preference 0, raddr/rport per RFC 8839), in the answer
/// towards a browser and in an offer towards one (with RTCP's own candidate unmuxed).
#[test]
fn force_relay_writes_eagws_candidate_as_relay() {
    let (mut c, mut s) = setup();
    c.offer(&webrtc_to_ims(), &ifaces(), &mut s, 0).unwrap();
    let mut a = opts("a", Some("b"), IMS_ANSWER);
    a.rtcp_mux.require = true;
    a.ice = IceMode::ForceRelay;
    let back = c.answer(&a, &ifaces(), &mut s, 1).unwrap();
    let m = media(&back);
    let rtp = c.legs[0].medias[0].rtp.unwrap();
    let (ip, port) = (rtp.advertised, rtp.bound.port());
    let cands: Vec<&str> = m.attrs("candidate").collect();
    assert_eq!(cands, vec![format!("3 1 UDP {} {ip} {port} typ relay raddr {ip} rport {port}", (65535 << 8) | 255).as_str()], "{back}");
    assert!(!back.contains("typ host") && !back.contains("53000"), "the browser's own candidate is not echoed: {back}");
    assert!(m.has_attr("ice-ufrag") && m.has_attr("fingerprint") && m.has_attr("end-of-candidates"));
    // c=/m= name the same transport address as the candidate (RFC 8839 default candidate)
    let p = sdp::parse(&back).unwrap();
    let c_line = p.media[0].connection().or(p.session_connection()).unwrap();
    assert_eq!((c_line.address.as_str(), m.port), (ip.to_string().as_str(), port));
    assert_eq!(s.wiring[&rtp.handle].ice.as_ref().map(|i| &i.local), c.legs[0].medias[0].ice_local.as_ref());

    // an IMS offer towards a browser, RTCP not muxed: one relay candidate per component
    let (mut c, mut s) = setup();
    let mut o = opts("ims", None, IMS_ANSWER);
    o.ice = IceMode::ForceRelay;
    o.transport_protocol = Some("UDP/TLS/RTP/SAVPF".into());
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let m = media(&out);
    let cands: Vec<&str> = m.attrs("candidate").collect();
    assert_eq!(cands.len(), 2, "{out}");
    assert!(cands[0].starts_with("3 1 UDP ") && cands[1].starts_with("3 2 UDP ") && cands.iter().all(|c| c.contains(" typ relay raddr ")), "{out}");
    let mb = &c.legs[1].medias[0];
    assert!(cands[1].ends_with(&format!("rport {}", mb.rtcp.unwrap().bound.port())), "{out}");
    // without the flag: host candidates, as before
    let (mut c, mut s) = setup();
    o.ice = IceMode::Force;
    let out = c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    assert!(out.contains("typ host") && !out.contains("typ relay"), "{out}");
}

#[test]
fn transcoding_is_wired_both_ways_and_undone_when_a_codec_is_shared() {
    use crate::media::transcode::CodecKind;
    const BROWSER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 111 0 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n";
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, BROWSER);
    o.codec_mask = vec!["all".into()];
    o.codec_transcode = vec!["AMR-WB".into()];
    let to_b = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    let fb = codecs::formats_of(&to_b);
    assert_eq!(fb.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), vec!["AMR-WB", "telephone-event"]);
    let amr = fb[0].pt;
    let answer = format!(
        "v=0\r\no=b 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP {amr}\r\na=rtpmap:{amr} AMR-WB/16000\r\na=sendrecv\r\n"
    );
    let to_a = media(&c.answer(&opts("a", Some("b"), &answer), &ifaces(), &mut s, 1).unwrap());
    // the browser gets its own Opus back, and its telephone-event though the answerer has
    // none: eagw plays the browser's events to B as tones
    assert_eq!(to_a.formats, vec!["111", "126"]);
    let (a, b) = (&c.legs[0].medias[0], &c.legs[1].medias[0]);
    let wa = s.wiring[&a.rtp.unwrap().handle].transcode.clone().expect("A → B transcoded");
    let wb = s.wiring[&b.rtp.unwrap().handle].transcode.clone().expect("B → A transcoded");
    assert_eq!((wa.rx.kind, wa.rx.pt, wa.tx.kind, wa.tx.pt), (CodecKind::Opus, 111, CodecKind::AmrWb, amr));
    assert_eq!((wb.rx.kind, wb.tx.kind), (CodecKind::AmrWb, CodecKind::Opus));
    // A's DTMF goes to B as tones (B has no telephone-event), B's in-band digits to A as events
    assert_eq!((wa.rx_dtmf, wa.tx_dtmf), (Some((126, 8000)), None));
    assert_eq!((wb.rx_dtmf, wb.tx_dtmf), (None, Some((126, 8000))));
    // play DTMF as if from B: into B's transcoded stream (towards A)
    let mut pd = Options { call_id: "c".into(), from_tag: "b".into(), dtmf_code: Some("12#".into()), ..Default::default() };
    c.play_dtmf(&pd, &mut s).unwrap();
    assert_eq!(s.played.len(), 1);
    assert_eq!(s.played[0].0, b.rtp.unwrap().handle);
    assert_eq!(s.played[0].1.iter().map(|d| d.event).collect::<Vec<_>>(), vec![1, 2, 11]);
    pd.from_tag = "nobody".into();
    assert!(c.play_dtmf(&pd, &mut s).unwrap_err().reason.contains("Unknown"));
    // block DTMF from A: A's socket, with A's telephone-event payload type
    let bo = Options { call_id: "c".into(), from_tag: "a".into(), ..Default::default() };
    c.block_dtmf(&bo, true, &mut s).unwrap();
    assert_eq!(s.blocked, vec![(a.rtp.unwrap().handle, vec![126])]);
    c.block_dtmf(&bo, false, &mut s).unwrap();
    assert!(s.blocked.is_empty());
    // no party named: every party
    c.block_dtmf(&Options { call_id: "c".into(), ..Default::default() }, true, &mut s).unwrap();
    assert_eq!(s.blocked.len(), 2);
    assert!(c.block_dtmf(&Options { from_tag: "x".into(), ..Default::default() }, true, &mut s).is_err());
    // a transcoded stream terminates RTCP (eagw is the RTP endpoint)
    assert!(s.wiring[&a.rtp.unwrap().handle].rtcp_gen.is_some());
    // a re-offer without the flags, answered with Opus: pass-through again
    c.offer(&opts("a", None, BROWSER), &ifaces(), &mut s, 2).unwrap();
    let opus = "v=0\r\no=b 1 2 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n";
    c.answer(&opts("a", Some("b"), opus), &ifaces(), &mut s, 3).unwrap();
    let a = &c.legs[0].medias[0];
    assert!(s.wiring[&a.rtp.unwrap().handle].transcode.is_none());
    assert!(s.wiring[&a.rtp.unwrap().handle].rtcp_gen.is_none());
    // pass-through: play DTMF is refused with the reason
    let pd = Options { call_id: "c".into(), from_tag: "a".into(), dtmf_code: Some("1".into()), ..Default::default() };
    assert!(c.play_dtmf(&pd, &mut s).unwrap_err().reason.contains("not transcoded"));
}

#[test]
fn ptime_is_asked_of_transcoded_streams_towards_each_side() {
    use crate::media::transcode::CodecKind;
    const IMS: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:60\r\na=sendrecv\r\n";
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, IMS);
    o.codec_mask = vec!["all".into()];
    o.codec_transcode = vec!["AMR-WB".into()];
    o.ptime = Some(40);
    let to_b = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    assert_eq!(to_b.attrs("ptime").collect::<Vec<_>>(), vec!["40"]);
    let amr = codecs::formats_of(&to_b)[0].pt;
    let answer = format!(
        "v=0\r\no=b 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP {amr}\r\na=rtpmap:{amr} AMR-WB/16000\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    let to_a = media(&c.answer(&opts("a", Some("b"), &answer), &ifaces(), &mut s, 1).unwrap());
    // the answerer's own ptime is not passed on: A keeps getting what it asked for
    assert!(to_a.attrs("ptime").next().is_none());
    let (a, b) = (&c.legs[0].medias[0], &c.legs[1].medias[0]);
    let wa = s.wiring[&a.rtp.unwrap().handle].transcode.clone().unwrap();
    let wb = s.wiring[&b.rtp.unwrap().handle].transcode.clone().unwrap();
    // towards B: ng's ptime (40) over B's a=ptime (20); towards A: A's a=ptime (60)
    assert_eq!((wa.tx.kind, wa.tx_ptime), (CodecKind::AmrWb, 40));
    assert_eq!((wb.tx.kind, wb.tx_ptime), (CodecKind::Pcma, 60));
    // ptime on a call that is passed through: a note, nothing changed
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, IMS);
    o.ptime = Some(40);
    c.offer(&o, &ifaces(), &mut s, 0).unwrap();
    let same = "v=0\r\no=b 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n";
    c.answer(&opts("a", Some("b"), same), &ifaces(), &mut s, 1).unwrap();
    assert!(c.notes.iter().any(|n| n.contains("ptime 40 applies to transcoded streams")), "{:?}", c.notes);
}

#[test]
fn codec_set_reaches_the_encoder_of_its_codec_over_the_workers_settings() {
    use crate::media::transcode::{CodecKind, EncoderDefaults, EncoderSettings};
    const IMS: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n";
    let (mut c, mut s) = setup();
    let mut o = opts("a", None, IMS);
    o.codec_mask = vec!["all".into()];
    o.codec_transcode = vec!["AMR-WB/16000/1/23850".into()];
    o.codec_set = vec!["opus/48000/2/24000///complexity=4".into(), "opus/48000/2/5".into()];
    let to_b = media(&c.offer(&o, &ifaces(), &mut s, 0).unwrap());
    // the bad spec is a warning; the good ones are kept
    assert!(c.notes.iter().any(|n| n.contains("codec-set opus/48000/2/5: bitrate 5 outside")), "{:?}", c.notes);
    let amr = codecs::formats_of(&to_b)[0].pt;
    let answer = format!(
        "v=0\r\no=b 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP {amr}\r\na=rtpmap:{amr} AMR-WB/16000\r\na=sendrecv\r\n"
    );
    c.answer(&opts("a", Some("b"), &answer), &ifaces(), &mut s, 1).unwrap();
    let (a, b) = (&c.legs[0].medias[0], &c.legs[1].medias[0]);
    let wa = s.wiring[&a.rtp.unwrap().handle].transcode.clone().unwrap();
    let wb = s.wiring[&b.rtp.unwrap().handle].transcode.clone().unwrap();
    assert_eq!((wa.tx.kind, wa.tx_set), (CodecKind::AmrWb, EncoderSettings { bitrate: Some(23850), ..Default::default() }));
    assert_eq!((wb.tx.kind, wb.tx_set), (CodecKind::Opus, EncoderSettings { bitrate: Some(24000), complexity: Some(4), dtx: None }));
    // over the worker's [media] settings
    let d = EncoderDefaults { opus_complexity: 0, opus_low_delay: true, opus_bitrate: 64_000, amrwb_bitrate: 12_650, amrwb_dtx: false };
    let t = wb.tuned(&d);
    assert_eq!((t.opus_bitrate, t.opus_complexity, t.amrwb_bitrate), (24_000, 4, 12_650));
    let t = wa.tuned(&d);
    assert_eq!((t.opus_bitrate, t.opus_complexity, t.amrwb_bitrate), (64_000, 0, 23_850));
}
