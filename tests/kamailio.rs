//! The most important interop test: Kamailio's own `rtpengine` module drives eagw,
//! unchanged, while sipp places a call through Kamailio (caller and callee both sipp),
//! with RTP both ways through eagw. Runs `scripts/interop-kamailio.sh` against an eagw
//! started here, then checks what Kamailio read back (`$rtpstat`) and eagw's counters.

mod common;
use common::*;
use eagw::control::bencode::Value;

#[test]
fn kamailio_drives_eagw_with_sipp_calls() {
    for bin in ["kamailio", "sipp"] {
        assert!(
            std::process::Command::new("sh").args(["-c", &format!("command -v {bin}")]).output().unwrap().status.success(),
            "{bin} missing: `make test` installs it (scripts/deps.sh test)"
        );
    }
    let mut e = Eagw::start(20, "");
    let work = std::env::temp_dir().join(format!("eagw-kamailio-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let out = std::process::Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/interop-kamailio.sh"))
        .arg("--keep")
        .env("WORKDIR", &work)
        .env("NG_PORT", e.ng.port().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let kam_log = std::fs::read_to_string(work.join("kamailio.log")).unwrap_or_default();
    assert!(out.status.success() && text.contains("interop: PASS"), "{text}\n--- kamailio log ---\n{kam_log}\n--- eagw log ---\n{}", e.log_text());

    // every RTP flow the sniffer saw has eagw on one end: media went through eagw only
    let mut flows = 0;
    for line in text.lines().filter(|l| l.contains(" -> ") && l.contains(" rtp ")) {
        let ports: Vec<u16> = line
            .split_whitespace()
            .filter(|w| w.starts_with("127.0.0.1:"))
            .map(|w| w.rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        assert!(ports.iter().any(|&p| p >= e.port_min && p <= e.port_max), "RTP bypassed eagw: {line}");
        flows += 1;
    }
    assert_eq!(flows, 4, "caller→eagw, eagw→callee, callee→eagw, eagw→caller:\n{text}");

    // Kamailio read eagw's counters through $rtpstat (an ng query) before deleting
    let line = kam_log.lines().find(|l| l.contains("RTPSTAT")).unwrap_or_else(|| panic!("no $rtpstat in kamailio log:\n{kam_log}"));
    let packets: i64 = line.split("bytes, ").nth(1).and_then(|r| r.split_whitespace().next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(packets >= 100, "$rtpstat shows {packets} RTP packets: {line}");
    assert!(line.contains("0 errors"), "{line}");

    // Kamailio's offer, answer and delete all reached eagw; the call is gone
    let st = e.statistics();
    let ctl = st.get("controlstatistics").unwrap();
    for c in ["offer", "answer", "delete", "query"] {
        assert!(ctl.get(c).and_then(Value::as_int).unwrap() >= 1, "no {c} from Kamailio: {st:?}");
    }
    let t = st.get("totalstatistics").unwrap();
    assert_eq!(t.get("managedsessions").and_then(Value::as_int), Some(1));
    assert_eq!(t.get("deletedsessions").and_then(Value::as_int), Some(1));
    assert!(t.get("relayedpackets").and_then(Value::as_int).unwrap() >= packets);
    assert_eq!(st.get("currentstatistics").and_then(|c| c.get("sessionsown")).and_then(Value::as_int), Some(0));
    assert_eq!(t.get("junkpackets").and_then(Value::as_int), Some(0));
    let _ = std::fs::remove_dir_all(&work);
}
