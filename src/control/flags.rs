//! From the ng dictionary (structured keys, the `flags` list, `rtpp-flags`) to typed
//! [`Options`]. Key spelling is lenient (hyphen, space, underscore, any case); unknown keys
//! and flags are logged and ignored, as rtpengine does; flags eagw does not implement yet
//! are accepted with a warning in the reply.

use super::bencode::Value;
use super::rtpp_flags::{self, Item, Val};
use crate::config::Learning;
use crate::sdp::Family;
use crate::session::options::DtlsMode;
use crate::session::{IceMode, Options};

/// `transport protocol`, `Transport_Protocol` → `transport-protocol`.
pub fn norm(k: &str) -> String {
    k.trim().chars().map(|c| if c == ' ' || c == '_' { '-' } else { c.to_ascii_lowercase() }).collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Value::Bytes(_) | Value::Int(_) => scalar(v).into_iter().collect(),
        Value::Dict(_) => vec![],
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Bytes(_) => v.as_str().map(str::to_string),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Errors here are the ones that make a request unusable (wrong type for a required key).
pub fn parse_options(dict: &Value) -> Result<Options, String> {
    let mut o = Options::default();
    let entries = dict.as_dict().ok_or("message is not a dictionary")?;
    for (k, v) in entries {
        let key = norm(&String::from_utf8_lossy(k));
        apply_kv(&mut o, &key, v)?;
    }
    Ok(o)
}

fn need_str(key: &str, v: &Value) -> Result<String, String> {
    scalar(v).ok_or_else(|| format!("key {key:?} must be a string"))
}

fn apply_kv(o: &mut Options, key: &str, v: &Value) -> Result<(), String> {
    match key {
        "command" => {}
        "call-id" => o.call_id = need_str(key, v)?,
        "from-tag" => o.from_tag = need_str(key, v)?,
        "to-tag" => o.to_tag = Some(need_str(key, v)?),
        "via-branch" => o.via_branch = Some(need_str(key, v)?).filter(|s| !s.is_empty()),
        "sdp" => {
            let b = v.as_bytes().ok_or("key \"sdp\" must be a string")?;
            o.sdp = Some(String::from_utf8(b.to_vec()).map_err(|_| "SDP is not valid UTF-8".to_string())?);
        }
        "label" | "set-label" => o.label = scalar(v),
        "flags" => {
            for f in strings(v) {
                apply_flag(o, &f);
            }
        }
        "rtpp-flags" => {
            let s = need_str(key, v)?;
            let items = rtpp_flags::parse(&s).map_err(|e| format!("rtpp-flags: {e}"))?;
            for it in items {
                match it {
                    Item::Flag(f) => apply_flag(o, &f),
                    Item::Pair(k, val) => {
                        let k = norm(&k);
                        let v = val_to_value(&val);
                        if k == "rtpp-flags" {
                            continue;
                        }
                        apply_kv(o, &k, &v)?;
                    }
                }
            }
        }
        "replace" => {
            for r in strings(v) {
                apply_flag(o, &format!("replace-{r}"));
            }
        }
        "rtcp-mux" => {
            for r in strings(v) {
                apply_flag(o, &format!("rtcp-mux-{r}"));
            }
        }
        "sdes" => {
            for r in strings(v) {
                apply_flag(o, &format!("SDES-{r}"));
            }
        }
        "osrtp" | "t.38" | "t38" | "bundle" | "extmap" | "sdp-attr" | "dtls-fingerprint" | "dtls-reverse" => {
            o.warnings.push(format!("{key} is not supported yet; ignored"));
        }
        "transport-protocol" => o.transport_protocol = Some(need_str(key, v)?),
        "generate-rtcp" => {
            let s = norm(&scalar(v).unwrap_or_default());
            o.generate_rtcp = match s.as_str() {
                "on" | "yes" | "1" | "true" | "enable" => Some(true),
                "off" | "no" | "0" | "false" | "disable" => Some(false),
                _ => {
                    o.warnings.push(format!("generate RTCP={s}: not on or off; ignored"));
                    o.generate_rtcp
                }
            };
        }
        "ice-lite" => match norm(&need_str(key, v)?).as_str() {
            "off" | "no" | "none" | "disable" => o.ice_full = true,
            s => o.warnings.push(format!("ICE-lite={s}: eagw is ICE-lite towards full agents already; ignored")),
        },
        "ice" => {
            let s = norm(&need_str(key, v)?);
            o.ice = match s.as_str() {
                "remove" => IceMode::Remove,
                "default" => IceMode::Default,
                "force" => IceMode::Force,
                "force-relay" => IceMode::ForceRelay,
                "optional" => IceMode::Optional,
                _ => {
                    tracing::warn!("unknown ICE value {s:?} ignored");
                    IceMode::Default
                }
            };
        }
        "dtls" => {
            let s = norm(&need_str(key, v)?);
            o.dtls = match s.as_str() {
                "off" | "no" | "disable" => DtlsMode::Off,
                "passive" => DtlsMode::Passive,
                "active" => DtlsMode::Active,
                _ => {
                    tracing::warn!("unknown DTLS value {s:?} ignored");
                    DtlsMode::Default
                }
            };
        }
        "direction" => {
            let d = strings(v);
            // rtpp-flags repeats `direction=x`; each adds one side
            for name in d {
                if o.from_interface.is_none() {
                    o.from_interface = Some(name);
                } else if o.to_interface.is_none() {
                    o.to_interface = Some(name);
                }
            }
        }
        "from-interface" => o.from_interface = scalar(v),
        "to-interface" => o.to_interface = scalar(v),
        "interface" => {
            o.from_interface = scalar(v);
            o.to_interface = scalar(v);
        }
        "address-family" => {
            o.address_family = match need_str(key, v)?.to_ascii_uppercase().as_str() {
                "IP4" => Some(Family::Ip4),
                "IP6" => Some(Family::Ip6),
                other => return Err(format!("address-family {other:?} is not IP4 or IP6")),
            }
        }
        "received-from" => {
            let l = strings(v);
            o.received_from = l.last().and_then(|a| a.parse().ok());
        }
        "media-address" => {
            let s = need_str(key, v)?;
            o.media_address = Some(s.parse().map_err(|_| format!("media-address {s:?} is not an IP address"))?);
        }
        "codec" => {
            let Some(d) = v.as_dict() else { return Err("key \"codec\" must be a dictionary".into()) };
            for (ck, cv) in d {
                let ck = norm(&String::from_utf8_lossy(ck));
                for c in strings(cv) {
                    apply_codec(o, &ck, &c);
                }
            }
        }
        "endpoint-learning" => apply_flag(o, &format!("endpoint-learning-{}", need_str(key, v)?)),
        "delete-delay" => {
            o.delete_delay = Some(v.as_int().filter(|&d| (0..=86400).contains(&d)).ok_or("delete-delay must be an integer 0..86400")? as u64)
        }
        "supports" => {
            o.supports_load_limit = strings(v).iter().any(|s| norm(s) == "load-limit");
        }
        "limit" => o.limit = v.as_int().filter(|&l| l >= 0).map(|l| l as u64),
        "ptime" | "ptime-reverse" | "reverse-ptime" => {
            let p = v.as_int().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            match p {
                Some(p @ (20 | 40 | 60)) if key == "ptime" => o.ptime = Some(p as u32),
                Some(p @ (20 | 40 | 60)) => o.ptime_reverse = Some(p as u32),
                Some(p) => o.warnings.push(format!("{key}={p}: eagw packetizes what it transcodes in 20, 40 or 60 ms; ignored")),
                None => return Err(format!("{key} must be an integer")),
            }
        }
        "code" | "digit" => o.dtmf_code = Some(scalar(v).ok_or_else(|| format!("key {key:?} must be a digit or an event code"))?),
        "duration" | "pause" | "volume" => {
            let n = v.as_int().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
            let n = Some(n.ok_or_else(|| format!("key {key:?} must be an integer"))?);
            match key {
                "duration" => o.dtmf_duration = n,
                "pause" => o.dtmf_pause = n,
                _ => o.dtmf_volume = n,
            }
        }
        // known keys eagw has no use for (yet): accepted silently
        "sip-message-type" | "sip-code" | "metadata" | "xmlrpc-callback" | "tos" | "record-call"
        | "to-label" | "all" | "template" | "output-destination" | "recording-file" | "recording-dir"
        | "recording-pattern" | "trigger" | "trigger-end" | "dtmf-delay" | "dtmf-security"
        | "frequency" | "media-echo" | "moh"
        | "delay-buffer" | "audio-player" | "sip-source-address" | "trickle-ice" => {}
        other => tracing::warn!("unknown ng key {other:?} ignored"),
    }
    Ok(())
}

fn val_to_value(v: &Val) -> Value {
    match v {
        Val::Str(s) => Value::str(s.clone()),
        Val::List(items) => {
            if items.iter().all(|i| matches!(i, Item::Flag(_))) {
                Value::List(items.iter().map(|i| match i {
                    Item::Flag(f) => Value::str(f.clone()),
                    Item::Pair(..) => Value::List(vec![]),
                }).collect())
            } else {
                Value::Dict(
                    items
                        .iter()
                        .filter_map(|i| match i {
                            Item::Pair(k, v) => Some((k.as_bytes().to_vec(), val_to_value(v))),
                            Item::Flag(_) => None,
                        })
                        .collect(),
                )
            }
        }
    }
}

fn apply_codec(o: &mut Options, op: &str, codec: &str) {
    match op {
        "strip" => o.codec_strip.push(codec.to_string()),
        "mask" => o.codec_mask.push(codec.to_string()),
        "offer" => o.codec_offer.push(codec.to_string()),
        "except" => o.codec_except.push(codec.to_string()),
        "transcode" => o.codec_transcode.push(codec.to_string()),
        "accept" => o.codec_accept.push(codec.to_string()),
        "consume" => o.codec_consume.push(codec.to_string()),
        "set" => o.codec_set.push(codec.to_string()),
        "ignore" => {}
        other => tracing::warn!("unknown codec operation {other:?} ignored"),
    }
}

/// One bare token from `flags` or `rtpp-flags`.
pub fn apply_flag(o: &mut Options, token: &str) {
    let n = norm(token);
    match n.as_str() {
        "trust-address" => o.sip_source_address = false,
        "sip-source-address" => o.sip_source_address = true,
        // strict source is always on; "symmetric" and port latching are the defaults
        "strict-source" | "symmetric" | "port-latching" | "no-port-latching" | "unidirectional" => {}
        "media-handover" => o.media_handover = true,
        "asymmetric" => o.asymmetric = true,
        "fatal" => o.fatal = true,
        "fast" => o.fast = true,
        "no-rtcp-attribute" => o.no_rtcp_attribute = true,
        "always-transcode" => o.always_transcode = true,
        "force-transcoding" => o.force_transcoding = true,
        "inject-dtmf" => o.inject_dtmf = true,
        // transcoding is allowed whenever the codecs need it
        "allow-transcoding" => {}
        // rtpengine's alias for what a browser needs
        "webrtc" => {
            o.transport_protocol = Some("UDP/TLS/RTP/SAVPF".into());
            o.ice = IceMode::Force;
            o.rtcp_mux.offer = true;
            o.rtcp_mux.require = true;
        }
        // trickle fragments carry no SDP eagw needs (it offers only host candidates); mids
        // are always echoed
        "trickle-ice" | "fragment" | "generate-mid" => {}
        "generate-rtcp" => o.generate_rtcp = Some(true),
        "reject-ice" | "pierce-nat" | "nat-wait" | "recrypt" => {
            o.warnings.push(format!("{token} is not supported yet; ignored"))
        }
        "loop-protect" | "record-call" | "no-redis-update" | "to-tag" | "directional" | "reset" | "all"
        | "single-codec" | "reuse-codecs" | "static-codecs" | "allow-no-codec-media" | "allow-asymmetric-codecs"
        | "port-latching-off" | "strip-extmap" | "original-sendrecv" | "provisional" => {}
        _ => apply_prefixed(o, token, &n),
    }
}

fn apply_prefixed(o: &mut Options, token: &str, n: &str) {
    // the suffix keeps its original case (codec names)
    let suffix = |p: &str| token.get(p.len()..).unwrap_or("").to_string();
    if let Some(r) = n.strip_prefix("replace-") {
        match r {
            "origin" => o.replace_origin = true,
            "origin-full" => o.replace_origin_full = true,
            "session-name" => o.replace_session_name = true,
            "sdp-version" | "force-increment-sdp-ver" => o.replace_sdp_version = true,
            "username" | "zero-address" | "session-connection" => {}
            _ => tracing::warn!("unknown replace flag {token:?} ignored"),
        }
    } else if let Some(r) = n.strip_prefix("rtcp-mux-") {
        match r {
            "offer" => o.rtcp_mux.offer = true,
            "require" => o.rtcp_mux.require = true,
            "demux" => o.rtcp_mux.demux = true,
            "accept" => o.rtcp_mux.accept = true,
            "reject" => o.rtcp_mux.reject = true,
            _ => tracing::warn!("unknown rtcp-mux flag {token:?} ignored"),
        }
    } else if let Some(r) = n.strip_prefix("endpoint-learning-") {
        o.learning = match r {
            "off" => Some(Learning::Off),
            "immediate" => Some(Learning::Immediate),
            "delayed" => Some(Learning::Delayed),
            "heuristic" => Some(Learning::Heuristic),
            _ => {
                tracing::warn!("unknown endpoint-learning {token:?} ignored");
                o.learning
            }
        };
    } else if n.starts_with("codec-") {
        for op in ["strip", "mask", "offer", "except", "transcode", "accept", "consume", "set", "ignore"] {
            let p = format!("codec-{op}-");
            if n.starts_with(&p) {
                apply_codec(o, op, &suffix(&p));
                return;
            }
        }
        tracing::warn!("unknown codec flag {token:?} ignored");
    } else if n.starts_with("transcode-") {
        apply_codec(o, "transcode", &suffix("transcode-"));
    } else if let Some(r) = n.strip_prefix("sdes-") {
        if r != "off" {
            o.warnings.push(format!("{token}: SDES is not supported yet; ignored"));
        }
    } else if let Some((k, v)) = token.split_once('=') {
        // `key=value` tokens inside `flags` (some clients send them so)
        let _ = apply_kv(o, &norm(k), &Value::str(v));
    } else if n.starts_with("osrtp-") || n.starts_with("bundle-") || n.starts_with("t38-") || n.starts_with("t.38-") || n.starts_with("sdp-attr-") || n.starts_with("from-tags-") {
        o.warnings.push(format!("{token} is not supported yet; ignored"));
    } else {
        tracing::warn!("unknown flag {token:?} ignored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::bencode::decode_all;

    #[test]
    fn kamailio_style_offer() {
        let mut msg = vec![];
        crate::control::bencode::encode(
            &crate::control::bencode::DictBuilder::new()
                .str("command", "offer")
                .str("call-id", "abc")
                .str("from-tag", "ft")
                .str("sdp", "v=0")
                .val("flags", Value::List(vec![Value::str("trust-address"), Value::str("strict-source")]))
                .val("replace", Value::List(vec![Value::str("origin")]))
                .val("rtcp-mux", Value::List(vec![Value::str("demux")]))
                .str("transport protocol", "RTP/AVP")
                .val("received-from", Value::List(vec![Value::str("IP4"), Value::str("127.0.0.1")]))
                .val("supports", Value::List(vec![Value::str("load limit")]))
                .build(),
            &mut msg,
        );
        let v = decode_all(&msg).unwrap();
        let o = parse_options(&v).unwrap();
        assert_eq!(o.call_id, "abc");
        assert_eq!(o.from_tag, "ft");
        assert!(o.replace_origin && o.rtcp_mux.demux && o.supports_load_limit);
        assert_eq!(o.transport_protocol.as_deref(), Some("RTP/AVP"));
        assert_eq!(o.received_from, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn rtpp_flags_string() {
        let v = Value::Dict(vec![
            (b"command".to_vec(), Value::str("offer")),
            (
                b"rtpp-flags".to_vec(),
                Value::str("replace-origin via-branch=z9hG4bK1 strict-source direction=access direction=core rtcp-mux=[offer require] codec=[strip=[PCMA G722] offer=[PCMU]] endpoint-learning=heuristic codec-mask-opus address-family=IP6"),
            ),
        ]);
        let o = parse_options(&v).unwrap();
        assert!(o.replace_origin);
        assert_eq!(o.via_branch.as_deref(), Some("z9hG4bK1"));
        assert_eq!(o.from_interface.as_deref(), Some("access"));
        assert_eq!(o.to_interface.as_deref(), Some("core"));
        assert!(o.rtcp_mux.offer && o.rtcp_mux.require);
        assert_eq!(o.codec_strip, vec!["PCMA", "G722"]);
        assert_eq!(o.codec_offer, vec!["PCMU"]);
        assert_eq!(o.codec_mask, vec!["opus"]);
        assert_eq!(o.learning, Some(Learning::Heuristic));
        assert_eq!(o.address_family, Some(Family::Ip6));
    }

    #[test]
    fn lenient_spelling_and_prefixed_flags() {
        let v = Value::Dict(vec![
            (b"Transport_Protocol".to_vec(), Value::str("RTP/AVPF")),
            (b"delete delay".to_vec(), Value::int(5)),
            (b"flags".to_vec(), Value::List(vec![Value::str("codec-strip-PCMA"), Value::str("no_rtcp_attribute"), Value::str("bogus-flag")])),
        ]);
        let o = parse_options(&v).unwrap();
        assert_eq!(o.transport_protocol.as_deref(), Some("RTP/AVPF"));
        assert_eq!(o.delete_delay, Some(5));
        assert_eq!(o.codec_strip, vec!["PCMA"]);
        assert!(o.no_rtcp_attribute);
    }

    #[test]
    fn generate_rtcp_forms() {
        let on = |v: Value| parse_options(&v).unwrap().generate_rtcp;
        let d = |k: &str, v: Value| Value::Dict(vec![(k.as_bytes().to_vec(), v)]);
        assert_eq!(on(d("generate RTCP", Value::str("on"))), Some(true));
        assert_eq!(on(d("generate-RTCP", Value::str("off"))), Some(false));
        assert_eq!(on(d("generate_rtcp", Value::int(1))), Some(true)); // JSON true
        assert_eq!(on(d("flags", Value::List(vec![Value::str("generate-RTCP")]))), Some(true));
        assert_eq!(on(d("rtpp-flags", Value::str("replace-origin generate-RTCP"))), Some(true));
        assert_eq!(on(d("rtpp-flags", Value::str("generate-RTCP=off"))), Some(false));
        assert_eq!(on(d("flags", Value::List(vec![]))), None);
        let o = parse_options(&d("generate RTCP", Value::str("maybe"))).unwrap();
        assert_eq!((o.generate_rtcp, o.warnings.len()), (None, 1));
    }

    #[test]
    fn bad_types_are_errors() {
        let v = Value::Dict(vec![(b"call-id".to_vec(), Value::List(vec![]))]);
        assert!(parse_options(&v).is_err());
        let v = Value::Dict(vec![(b"codec".to_vec(), Value::str("x"))]);
        assert!(parse_options(&v).is_err());
        assert!(parse_options(&Value::int(1)).is_err());
    }
}
