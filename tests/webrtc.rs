//! Real WebRTC stacks through eagw: headless Chromium and aiortc place G.711 calls to an
//! independent IMS peer (plain RTP or SDES-SRTP), with Kamailio's WebRTC flags over ng,
//! both offer directions and both DTLS roles; speech from espeak-ng both ways, scored
//! with NB-PESQ. The calls are run by `tests/interop/webrtc/call.py` (see its README);
//! each asserts its own checks and this test asserts them again from the JSON, plus
//! eagw's own counters (one aiortc call with `generate-RTCP`: eagw's SR/RR read by aiortc's
//! RTCP stack and parser). Calls run one at a time: PESQ and the browser's concealment
//! figures are honest only on a machine that is not saturated.

mod common;
use common::*;
use eagw::control::bencode::Value;
use std::path::PathBuf;
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn python() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python"));
    assert!(p.exists(), "{} missing: `make test` creates the venv (scripts/deps.sh test)", p.display());
    p
}

/// Runs one call; returns call.py's JSON result after checking it passed.
fn call(e: &Eagw, client: &str, args: &[&str]) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("eagw-webrtc-{}-{client}-{}", std::process::id(), args.join("_").replace("--", "")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("result.json");
    let out = std::process::Command::new(python())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/webrtc"))
        .arg("call.py")
        .args(["--client", client, "--ng", &e.ng.to_string(), "--seconds", "8", "--workdir"])
        .arg(&dir)
        .arg("--json")
        .arg(&json)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let r: serde_json::Value = std::fs::read_to_string(&json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("{client} {args:?}: no result\n{text}\n--- eagw log ---\n{}", e.log_text()));
    assert!(
        out.status.success() && r["pass"] == true,
        "{client} {args:?} failed: {}\n{text}\n--- eagw log ---\n{}",
        r["checks"],
        e.log_text()
    );
    // the checks that matter, asserted here too (AMR-WB: the codec's own ceiling is lower)
    let pesq = r["pesq_ims"].as_f64().unwrap();
    // (AMR-WB: the same speech through AMR-WB alone, less 0.3 for the browser's Opus and
    // the transcoder, in real time)
    let min = r["pesq_amrwb_alone"].as_f64().map_or(3.5, |a| a - 0.3);
    assert!(pesq >= min, "{client} {args:?}: NB-PESQ at the IMS side {pesq}");
    let cs = &r["client_stats"];
    assert_eq!(cs["dtlsState"], "connected", "{client} {args:?}: {cs}");
    assert!(cs["packetsReceived"].as_f64().unwrap() >= 300.0, "{client} {args:?}: {cs}");
    if let (Some(c), Some(t)) = (cs["concealedSamples"].as_f64(), cs["totalSamplesReceived"].as_f64()) {
        assert!(t > 0.0 && c / t < 0.02, "{client} {args:?}: concealed {c} of {t}");
    }
    eprintln!(
        "{client} {args:?}: PESQ ims {pesq} webrtc {} (AMR-WB alone {}), DTLS role {}",
        r["pesq_webrtc"],
        r["pesq_amrwb_alone"],
        r["dtls_role_relay"]
    );
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn total(e: &mut Eagw, key: &str) -> i64 {
    let st = e.statistics();
    st.get("totalstatistics").and_then(|t| t.get(key)).and_then(Value::as_int).unwrap_or(-1)
}

#[test]
fn chromium_through_eagw_to_an_ims_peer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut e = Eagw::start(30, "");
    // the browser offers; eagw answers DTLS active (default) or passive
    let r = call(&e, "chromium", &["--offerer", "webrtc"]);
    assert_eq!(r["dtls_role_relay"], "active");
    let r = call(&e, "chromium", &["--offerer", "webrtc", "--dtls", "passive"]);
    assert_eq!(r["dtls_role_relay"], "passive");
    // the IMS side offers and the browser answers (it takes active: eagw is the server)
    let r = call(&e, "chromium", &["--offerer", "ims"]);
    assert_eq!(r["dtls_role_relay"], "passive");
    // eagw offers setup:active: the browser becomes the server
    let r = call(&e, "chromium", &["--offerer", "ims", "--dtls", "active", "--codec", "PCMA"]);
    assert_eq!(r["dtls_role_relay"], "active");
    // ICE restart halfway: new credentials both sides, audio continues from the new port
    call(&e, "chromium", &["--ice-restart"]);
    assert!(total(&mut e, "dtlshandshakes") >= 5);
    assert_eq!(total(&mut e, "dtlsfailures"), 0);
    assert!(total(&mut e, "icechecks") >= 10);
    e.terminate();
}

/// The browser speaks Opus, the IMS peer only AMR-WB (`codec-mask-all
/// codec-transcode-AMR-WB`): eagw transcodes both ways. The peer's frames come from
/// libvo-amrwbenc (`examples/amrwb_codec`); what it receives is decoded by ffmpeg.
/// After the speech the browser sends "1#" with `RTCDTMFSender.insertDTMF`; the peer
/// negotiated no telephone-event, so eagw plays the digits as tones, and the harness finds
/// them in the peer's audio with its own DFT detector (none in the speech before them).
#[test]
fn chromium_opus_through_the_transcoder_to_an_amrwb_peer() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let codec = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/examples/amrwb_codec");
    assert!(
        std::path::Path::new(codec).exists(),
        "{codec} missing: `make test` builds it (`cargo build --release --examples`)"
    );
    let mut e = Eagw::start(36, "");
    let r = call(&e, "chromium", &["--offerer", "webrtc", "--codec", "AMR-WB", "--dtmf", "1#"]);
    let to_ims = r["sdp"]["initial: relay offer to ims"].as_str().unwrap_or_default().to_string();
    assert!(to_ims.contains("AMR-WB/16000") && !to_ims.contains("opus"), "{to_ims}");
    let q = &r["query"];
    let streams: Vec<&serde_json::Value> = q["tags"]
        .as_object()
        .into_iter()
        .flat_map(|t| t.values())
        .flat_map(|l| l["medias"].as_array().into_iter().flatten())
        .flat_map(|m| m["streams"].as_array().into_iter().flatten())
        .collect();
    let x: Vec<(String, String)> = streams
        .iter()
        .filter_map(|s| s.get("transcoding"))
        .map(|x| (x["codec in"].as_str().unwrap_or("").to_string(), x["codec out"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(x.contains(&("opus".into(), "AMR-WB".into())) && x.contains(&("AMR-WB".into(), "opus".into())), "{x:?}");
    assert!(total(&mut e, "transcodedframes") >= 600);
    assert_eq!(r["dtmf_heard"], "1#", "{}", r["dtmf_digits"]);
    assert_eq!(r["dtmf_in_speech"], "", "{}", r["dtmf_digits"]);
    assert_eq!(total(&mut e, "dtmftones"), 2, "the browser's two events played as tones");
    eprintln!("DTMF heard {} {} (tonechanges {})", r["dtmf_heard"], r["dtmf_digits"], r["dtmf_tonechanges"]);
    e.terminate();
}

#[test]
fn aiortc_through_eagw_to_plain_and_sdes_ims_peers() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut e = Eagw::start(31, "");
    let r = call(&e, "aiortc", &["--offerer", "webrtc"]);
    assert_eq!(r["dtls_role_relay"], "active");
    call(&e, "aiortc", &["--offerer", "webrtc", "--dtls", "passive"]);
    call(&e, "aiortc", &["--offerer", "ims"]);
    // SDES-SRTP on the IMS leg, both offer directions
    let r = call(&e, "aiortc", &["--ims", "sdes"]);
    assert!(r["checks"]["ims_srtp_auth_ok"] == true);
    call(&e, "aiortc", &["--offerer", "ims", "--ims", "sdes", "--codec", "PCMA"]);
    // generate-RTCP: eagw's own SR/RR to both sides; aiortc shows remote-inbound-rtp (loss,
    // RTT) from eagw's report blocks, aiortc's parser reads what the IMS side gets, and
    // eagw has an RTT from aiortc's RR about eagw's SR
    let r = call(&e, "aiortc", &["--generate-rtcp"]);
    for k in ["client_remote_inbound_from_relay", "client_rtt_from_relay", "ims_rtcp_from_relay_parses", "ims_rtcp_reports_ims_stream", "relay_rtt_from_client_rr"] {
        assert!(r["checks"][k] == true, "{k}: {}", r["checks"]);
    }
    assert_eq!(r["client_stats"]["remoteInbound"]["packetsLost"], 0, "{}", r["client_stats"]);
    assert!(total(&mut e, "rtcpgenerated") >= 2 && total(&mut e, "rtcpconsumed") >= 2);
    assert_eq!(total(&mut e, "rtcperrors"), 0);
    assert!(total(&mut e, "dtlshandshakes") >= 5);
    assert_eq!(total(&mut e, "srtperrors"), 0, "no SRTP failures in clean calls");
    e.terminate();
}

fn metric(e: &Eagw, name: &str) -> u64 {
    let (_, body) = e.http("GET", "/metrics", "text/plain", b"");
    let body = String::from_utf8_lossy(&body).to_string();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("eagw_{name} ")).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no metric {name} in {body}"))
}

/// Chromium behind "the hardest NAT": `iceTransportPolicy: "relay"` with eagw's own TURN
/// server as its only ICE server, over TCP and over TLS, `ICE=force-relay` towards it; a
/// call through eagw to the IMS peer, audio both ways. eagw's TURN may relay only to eagw's
/// media ports (allow_peers), and its counters show the relayed packets. The TLS listener
/// runs on a certificate the test made (PEM files, `tls_cert`/`tls_key`); Chromium checks
/// a TURN server's certificate like any https server's and refuses a self-signed one, so
/// it is told to trust exactly this key (`--ignore-certificate-errors-spki-list`, the
/// SHA-256 of its SubjectPublicKeyInfo), and a run without that switch must fail.
#[test]
fn chromium_relay_only_through_eagws_turn_over_tcp_and_tls() {
    use base64::Engine;
    use rcgen::PublicKeyData;
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let slot = 57;
    let (_, _, pmin, pmax) = ports(slot);
    let (turn, tls) = (25000 + slot * 10, 25000 + slot * 10 + 1);
    let dir = std::env::temp_dir().join(format!("eagw-turn-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["turn.eagw.test".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let spki = ring::digest::digest(&ring::digest::SHA256, &ck.signing_key.subject_public_key_info());
    let spki = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
    let cfg = format!(
        "[media]\nport_min = {pmin}\nport_max = {media_max}\n[turn]\nlisten_tcp = [\"127.0.0.1:{turn}\"]\nlisten_tls = [\"127.0.0.1:{tls}\"]\n\
         tls_cert = \"{}\"\ntls_key = \"{}\"\nrealm = \"eagw.test\"\nrelay_address = \"127.0.0.1\"\nport_min = {}\nport_max = {pmax}\n\
         users = {{ demo = \"demo-password\" }}\nallow_peers = [\"127.0.0.1/32 {pmin}-{media_max}\"]\n",
        cert.display(),
        key.display(),
        pmin + 200,
        media_max = pmin + 199,
    );
    let mut e = Eagw::start(slot, &cfg);
    let relayed = |e: &Eagw| (metric(e, "turn_to_peer_packets_total"), metric(e, "turn_to_client_packets_total"));
    let tcp_url = format!("turn:127.0.0.1:{turn}?transport=tcp");
    let tls_url = format!("turns:127.0.0.1:{tls}?transport=tcp");
    let pin = format!("--chromium-arg=--ignore-certificate-errors-spki-list={spki}");
    let runs: [(&str, Vec<&str>); 3] = [
        ("TCP, browser offers", vec!["--turn", &tcp_url, "--relay-only", "--ice-webrtc", "force-relay"]),
        ("TLS, browser offers", vec!["--turn", &tls_url, "--relay-only", "--ice-webrtc", "force-relay", &pin]),
        ("TLS, IMS offers", vec!["--turn", &tls_url, "--relay-only", "--ice-webrtc", "force-relay", "--offerer", "ims", &pin]),
    ];
    for (what, args) in runs {
        let before = relayed(&e);
        let r = call(&e, "chromium", &args);
        let pair = &r["client_stats"]["selectedPair"];
        assert_eq!((pair["localType"].as_str(), pair["remoteType"].as_str()), (Some("relay"), Some("relay")), "{what}: {pair}");
        let after = relayed(&e);
        // 8 s of 20 ms packets each way went through eagw's TURN relay
        assert!(after.0 - before.0 >= 300 && after.1 - before.1 >= 300, "{what}: TURN relayed {before:?} -> {after:?}");
        eprintln!("{what}: TURN relayed {} to eagw's media port, {} to the browser", after.0 - before.0, after.1 - before.1);
    }
    assert!(metric(&e, "turn_allocations_created_total") >= 3);
    assert_eq!(metric(&e, "turn_denied_peers_total"), 0);
    assert_eq!(total(&mut e, "dtlsfailures"), 0);
    // without the pin Chromium refuses eagw's certificate: no allocation, no call
    let errors = metric(&e, "turn_tls_errors_total");
    let created = metric(&e, "turn_allocations_created_total");
    let out = std::process::Command::new(python())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/webrtc"))
        .args(["call.py", "--client", "chromium", "--ng", &e.ng.to_string(), "--seconds", "2", "--turn", &tls_url, "--relay-only"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a call through an untrusted TURN TLS certificate must fail");
    assert!(metric(&e, "turn_tls_errors_total") > errors, "Chromium's refusal (a TLS alert) is counted");
    assert_eq!(metric(&e, "turn_allocations_created_total"), created);
    e.terminate();
    let _ = std::fs::remove_dir_all(&dir);
}
