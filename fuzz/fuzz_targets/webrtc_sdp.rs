#![no_main]
//! Offer/answer with WebRTC termination (fake sockets), arbitrary SDP: no panic, the
//! rewritten SDP parses, no socket leaks, and the ICE/DTLS lines land on the right side:
//! none towards the plain-RTP party, ours (ice-lite, credentials, fingerprint, a setup
//! role) towards the WebRTC party, matching what the sockets were wired with.
//!
//! Input: one byte, then `offer\n--\nanswer[\n--\nre-offer]`. The byte's low two bits
//! pick the direction (0, 2: a browser offers towards IMS with `ICE=remove DTLS=off
//! transport-protocol=RTP/AVP rtcp-mux-demux`, the IMS answer with `rtcp-mux-require`;
//! 1, 3: IMS offers towards a browser with `ICE=force transport-protocol=UDP/TLS/RTP/SAVPF
//! rtcp-mux-offer`, the browser answer with `ICE=remove transport-protocol=RTP/AVP`),
//! the next two the `DTLS` flag (default, passive, active, off).
use eagw::sdp::{self, Sdp};
use eagw::session::testing::{offer_answer_options, FakeSockets};
use eagw::session::{Call, Crypt, DtlsMode, IceMode, Interfaces, MediaSockets, MediaState};
use libfuzzer_sys::fuzz_target;

const FINGERPRINT: &str = "sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3C:4B:F4:E5:2B:16:E9:6F:EA:36:DE:0A";

fn has_any(sdp: &Sdp, names: &[&str]) -> bool {
    sdp.session.iter().filter_map(|l| l.attr()).any(|(n, _)| names.contains(&n))
        || sdp.media.iter().any(|m| names.iter().any(|n| m.has_attr(n)))
}

/// What eagw wrote towards the WebRTC party of media `ms`, and how it wired the socket.
fn check_webrtc_side(out: &Sdp, ms: &[MediaState], socks: &FakeSockets, offer: bool) {
    // a=ice-lite unless eagw runs full ICE towards this party (it is lite itself, or
    // ICE-lite=off) on every stream where it does ICE
    let lite = out.media.iter().zip(ms).any(|(m, st)| m.port != 0 && st.ice_local.is_some() && !st.ice_full);
    assert_eq!(out.session_attr("ice-lite").is_some(), lite, "a=ice-lite against the streams' ICE modes");
    for (m, st) in out.media.iter().zip(ms) {
        if m.port == 0 {
            continue;
        }
        if let Some(d) = &st.dtls {
            assert_eq!(m.attrs("fingerprint").collect::<Vec<_>>(), vec![FINGERPRINT]);
            let setup = m.attr("setup").expect("a=setup");
            assert!(offer || setup != "actpass", "an answer left the DTLS role open");
            assert_eq!(setup, d.local_setup.as_str());
        }
        if let Some(c) = &st.ice_local {
            assert_eq!((m.attr("ice-ufrag"), m.attr("ice-pwd")), (Some(c.ufrag.as_str()), Some(c.pwd.as_str())));
            assert!(m.attrs("candidate").count() >= 1);
        }
        let Some(rtp) = st.rtp else { continue };
        if let Some(w) = socks.wiring.get(&rtp.handle) {
            assert_eq!(w.ice.as_ref().map(|i| &i.local), st.ice_local.as_ref(), "socket wired with other ICE credentials than the SDP's");
            if w.ice.is_some() {
                assert_eq!(w.peer, None, "an ICE socket must not trust the SDP address");
            }
            assert_eq!(matches!(w.crypt, Crypt::Dtls { .. }), st.dtls.is_some());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let mut parts = text.split("\n--\n");
    let offer_sdp = parts.next().unwrap_or("");
    let answer_sdp = parts.next().unwrap_or(offer_sdp);
    let reoffer_sdp = parts.next();
    let browser_offers = mode & 1 == 0;
    let dtls = [DtlsMode::Default, DtlsMode::Passive, DtlsMode::Active, DtlsMode::Off][(mode >> 2 & 3) as usize];

    let ifaces = Interfaces { names: vec!["a".into(), "b".into()], families: vec![(true, true), (true, false)], fingerprint: FINGERPRINT.into() };
    let mut socks = FakeSockets::default();
    let mut call = Call::new("c", eagw::session::call::default_learn(), 0);
    let (mut o, mut a) = offer_answer_options(offer_sdp, answer_sdp);
    o.dtls = dtls;
    if browser_offers {
        o.ice = IceMode::Remove;
        o.transport_protocol = Some("RTP/AVP".into());
        o.rtcp_mux.demux = true;
        a.rtcp_mux.require = true;
    } else {
        o.ice = IceMode::Force;
        o.transport_protocol = Some("UDP/TLS/RTP/SAVPF".into());
        o.rtcp_mux.offer = true;
        a.ice = IceMode::Remove;
        a.transport_protocol = Some("RTP/AVP".into());
        a.rtcp_mux.demux = true;
    }
    const WEBRTC_ATTRS: &[&str] = &["ice-ufrag", "ice-pwd", "ice-lite", "candidate", "fingerprint", "setup", "tls-id"];
    if let Ok(out) = call.offer(&o, &ifaces, &mut socks, 0) {
        let p = sdp::parse(&out).expect("rewritten offer does not parse");
        if browser_offers {
            assert!(!has_any(&p, WEBRTC_ATTRS), "ICE/DTLS lines towards the plain side: {out}");
        } else {
            check_webrtc_side(&p, &call.legs[1].medias, &socks, true);
        }
        if let Ok(out) = call.answer(&a, &ifaces, &mut socks, 1) {
            let p = sdp::parse(&out).expect("rewritten answer does not parse");
            if browser_offers {
                check_webrtc_side(&p, &call.legs[0].medias, &socks, false);
            } else {
                assert!(!has_any(&p, WEBRTC_ATTRS), "ICE/DTLS lines towards the plain side: {out}");
            }
            if let Some(re) = reoffer_sdp {
                // the same party offers again (ICE restart, new fingerprint or tls-id)
                let mut r = o.clone();
                r.sdp = Some(re.into());
                r.to_tag = Some("b".into());
                if browser_offers {
                    if let Ok(out) = call.offer(&r, &ifaces, &mut socks, 2) {
                        let p = sdp::parse(&out).expect("rewritten re-offer does not parse");
                        assert!(!has_any(&p, WEBRTC_ATTRS), "ICE/DTLS lines towards the plain side: {out}");
                    }
                } else if let Ok(out) = call.offer(&r, &ifaces, &mut socks, 2) {
                    let p = sdp::parse(&out).expect("rewritten re-offer does not parse");
                    check_webrtc_side(&p, &call.legs[1].medias, &socks, true);
                }
            }
        }
    }
    call.close(&mut socks as &mut dyn MediaSockets);
    assert_eq!(socks.open_count(), 0, "sockets leaked");
});
