//! Codec negotiation across the two parties of a stream, as rtpengine does it: codecs are
//! passed through when the answerer picks one the offerer offered; eagw transcodes when the
//! answerer picks one the offerer did not offer (added to the offer by `codec-transcode`,
//! or left after `codec-mask` / `codec-consume`), or when `codec-accept` / `always
//! transcode` names the offerer's codec to use.
//!
//! - Offer: `transcode` codecs eagw can decode and encode are appended to the offer the
//!   answerer sees (a free dynamic payload type, or the static one), with a
//!   telephone-event at the new codec's clock when the offerer offered telephone-event.
//! - Answer: [`decide`] compares the answerer's first codec with the offer; when it
//!   transcodes, the answer towards the offerer is rewritten to the offerer's codec (its
//!   payload type and fmtp) plus its telephone-event and comfort noise if both sides have
//!   them.

use super::{NgError, Options};
use crate::media::transcode::{CodecKind, CodecSpec, EncoderSettings};
use crate::sdp::{Line, Media};

/// One format of an m= line with what eagw reads of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fmt {
    pub pt: u8,
    pub name: String,
    pub clock: u32,
    pub channels: Option<u8>,
    pub fmtp: String,
}

impl Fmt {
    pub fn kind(&self) -> Option<CodecKind> {
        CodecKind::from_rtpmap(&self.name, self.clock)
    }
    pub fn is_dtmf(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }
    fn is_cn(&self) -> bool {
        self.name.eq_ignore_ascii_case("CN")
    }
    /// Audio codecs (not DTMF, comfort noise, redundancy or FEC).
    fn is_audio(&self) -> bool {
        !self.is_dtmf() && !self.is_cn() && !["red", "ulpfec", "rtx"].iter().any(|n| self.name.eq_ignore_ascii_case(n))
    }
    fn same_codec(&self, other: &Fmt) -> bool {
        self.name.eq_ignore_ascii_case(&other.name) && self.clock == other.clock
    }
}

/// What one party speaks on a transcoded stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XcodeSide {
    pub codec: CodecSpec,
    /// telephone-event payload type and clock.
    pub dtmf: Option<(u8, u32)>,
    /// comfort-noise payload type.
    pub cn: Option<u8>,
}

/// Static payload types (RFC 3551) for codec matching when there is no rtpmap.
fn static_fmt(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        13 => ("CN", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

/// The formats of `m`, in its order (those without a known encoding are left out).
pub fn formats_of(m: &Media) -> Vec<Fmt> {
    m.formats
        .iter()
        .filter_map(|f| {
            let pt: u8 = f.trim().parse().ok().filter(|&p| p < 128)?;
            let fmtp = m
                .attrs("fmtp")
                .find_map(|v| v.split_once(' ').filter(|(p, _)| p.trim() == f.trim()).map(|(_, r)| r.trim().to_string()))
                .unwrap_or_default();
            match m.rtpmap(f) {
                Some(r) => Some(Fmt { pt, name: r.encoding, clock: r.clock, channels: r.channels, fmtp }),
                None => static_fmt(pt).map(|(n, c)| Fmt { pt, name: n.into(), clock: c, channels: None, fmtp }),
            }
        })
        .collect()
}

/// `AMR-WB`, `opus/48000`, `PCMA/8000/1` → the codec eagw knows by that name.
fn parse_spec(spec: &str) -> Option<CodecKind> {
    let mut parts = spec.split('/');
    let name = parts.next()?.trim();
    let clock = parts.next().and_then(|c| c.trim().parse::<u32>().ok());
    let guess = match name.to_ascii_uppercase().as_str() {
        "PCMU" => CodecKind::Pcmu,
        "PCMA" => CodecKind::Pcma,
        "OPUS" => CodecKind::Opus,
        "AMR-WB" => CodecKind::AmrWb,
        _ => return None,
    };
    match clock {
        Some(c) if c != guess.clock() => None,
        _ => Some(guess),
    }
}

/// One `codec-set` spec (rtpengine's `name/clock/channels/bitrate/ptime/fmtp/options`,
/// e.g. `opus/48000/2/24000`, `AMR-WB/16000/1/23850`, `opus/48000/2////complexity=5`):
/// the codec and what it asks of eagw's encoder for it; `Ok(None)` for a spec that asks
/// nothing (a bare `opus` in `codec-transcode`). Options (the 7th field, separated by
/// space, colon, semicolon or comma): `complexity` or ffmpeg's `compression_level`
/// (Opus, 0–10), `dtx` (AMR-WB, 0 or 1). ptime and fmtp fields are not taken from here (ng `ptime` sets the
/// packetization).
pub fn parse_set(spec: &str) -> Result<Option<(CodecKind, EncoderSettings)>, String> {
    let fields: Vec<&str> = spec.split('/').map(str::trim).collect();
    let bitrate = fields.get(3).copied().unwrap_or("");
    let options = fields.get(6).copied().unwrap_or("");
    if bitrate.is_empty() && options.is_empty() {
        return Ok(None);
    }
    let kind = parse_spec(spec).ok_or("eagw does not encode that codec (at that clock rate)")?;
    let mut set = EncoderSettings::default();
    if !bitrate.is_empty() {
        let b: u32 = bitrate.parse().map_err(|_| format!("bitrate {bitrate:?} is not a number"))?;
        let (lo, hi) = match kind {
            CodecKind::Opus => (6_000, 510_000),
            CodecKind::AmrWb => (6_600, 23_850),
            CodecKind::Pcma | CodecKind::Pcmu => (64_000, 64_000),
        };
        if !(lo..=hi).contains(&b) {
            return Err(format!("bitrate {b} outside {lo}–{hi} for {}", kind.name()));
        }
        set.bitrate = (lo != hi).then_some(b);
    }
    for opt in options.split([' ', ':', ';', ',']).filter(|o| !o.is_empty()) {
        let (k, v) = opt.split_once('=').or_else(|| opt.split_once("--")).ok_or_else(|| format!("option {opt:?} is not key=value"))?;
        match (kind, k) {
            (CodecKind::Opus, "complexity" | "compression_level") => {
                let c: u8 = v.parse().ok().filter(|c| *c <= 10).ok_or_else(|| format!("{k} {v:?} is not 0–10"))?;
                set.complexity = Some(c);
            }
            (CodecKind::AmrWb, "dtx") => {
                set.dtx = Some(match v {
                    "0" => false,
                    "1" => true,
                    _ => return Err(format!("dtx {v:?} is not 0 or 1")),
                })
            }
            _ => return Err(format!("option {k} is not supported for {}", kind.name())),
        }
    }
    Ok(Some((kind, set)))
}

/// What the call's `codec-set` specs ask of the encoder for `kind` (the first spec that
/// sets each setting).
pub fn settings_for(sets: &[(CodecKind, EncoderSettings)], kind: CodecKind) -> EncoderSettings {
    let mut out = EncoderSettings::default();
    for (_, s) in sets.iter().filter(|(k, _)| *k == kind) {
        out.bitrate = out.bitrate.or(s.bitrate);
        out.complexity = out.complexity.or(s.complexity);
        out.dtx = out.dtx.or(s.dtx);
    }
    out
}

/// `PCMA`, `opus/48000`, `AMR-WB/16000/1`, a payload type, or `all` against `f`.
pub fn fmt_matches(spec: &str, f: &Fmt) -> bool {
    if spec.eq_ignore_ascii_case("all") || spec.eq_ignore_ascii_case("full") {
        return true;
    }
    if spec.trim() == f.pt.to_string() {
        return true;
    }
    let mut parts = spec.split('/');
    let n = parts.next().unwrap_or("");
    n.eq_ignore_ascii_case(&f.name) && parts.next().map_or(true, |c| c.parse::<u32>() == Ok(f.clock))
}

fn free_pt(m: &Media, also_taken: &[Fmt]) -> Option<u8> {
    let taken = |p: u8| m.formats.iter().any(|f| f.trim() == p.to_string()) || also_taken.iter().any(|f| f.pt == p);
    (96..128).find(|&p| !taken(p))
}

fn default_fmtp(kind: CodecKind) -> &'static str {
    match kind {
        CodecKind::Opus => "minptime=10;useinbandfec=1",
        _ => "",
    }
}

/// `codec-transcode`: appends the codecs eagw can transcode to (from what the offerer
/// offered) to `m_out`, the offer towards the answerer. Returns notes for the reply.
pub fn add_transcodes(m_out: &mut Media, offered: &[Fmt], o: &Options) -> Vec<String> {
    let mut notes = vec![];
    if o.codec_transcode.is_empty() {
        return notes;
    }
    if !offered.iter().any(|f| f.is_audio() && f.kind().is_some()) {
        notes.push(format!("m={}: no offered codec eagw can transcode from; codec-transcode ignored", m_out.media));
        return notes;
    }
    let dtmf = offered.iter().any(|f| f.is_dtmf());
    for spec in &o.codec_transcode {
        let Some(kind) = parse_spec(spec) else {
            notes.push(format!("codec-transcode-{spec}: eagw transcodes only PCMU, PCMA, opus and AMR-WB; ignored"));
            continue;
        };
        let present = formats_of(m_out);
        if present.iter().any(|f| f.kind() == Some(kind)) {
            continue;
        }
        let pt = match kind {
            CodecKind::Pcmu if !present.iter().any(|f| f.pt == 0) => 0,
            CodecKind::Pcma if !present.iter().any(|f| f.pt == 8) => 8,
            _ => match free_pt(m_out, offered) {
                Some(p) => p,
                None => {
                    notes.push(format!("codec-transcode-{spec}: no free payload type"));
                    continue;
                }
            },
        };
        m_out.formats.push(pt.to_string());
        m_out.lines.push(Line { kind: b'a', value: format!("rtpmap:{pt} {}", kind.rtpmap()) });
        let fmtp = default_fmtp(kind);
        if !fmtp.is_empty() {
            m_out.lines.push(Line { kind: b'a', value: format!("fmtp:{pt} {fmtp}") });
        }
        let clock = kind.clock();
        if dtmf && !formats_of(m_out).iter().any(|f| f.is_dtmf() && f.clock == clock) {
            if let Some(p) = free_pt(m_out, offered) {
                m_out.formats.push(p.to_string());
                m_out.lines.push(Line { kind: b'a', value: format!("rtpmap:{p} telephone-event/{clock}") });
                m_out.lines.push(Line { kind: b'a', value: format!("fmtp:{p} 0-15") });
            }
        }
    }
    notes
}

fn side(codec: &Fmt, all: &[Fmt]) -> Option<XcodeSide> {
    Some(XcodeSide {
        codec: CodecSpec { pt: codec.pt, kind: codec.kind()?, fmtp: codec.fmtp.clone() },
        dtmf: all.iter().find(|f| f.is_dtmf() && f.clock == codec.clock).or_else(|| all.iter().find(|f| f.is_dtmf())).map(|f| (f.pt, f.clock)),
        cn: all.iter().find(|f| f.is_cn()).map(|f| f.pt),
    })
}

/// After the answer: whether the stream is transcoded, and if so what the offerer (`a`)
/// and the answerer (`b`) each speak. `offered` is the offerer's list, `answered` the
/// answerer's. `inject` (`inject DTMF` in the offer or the answer): a codec both speak is
/// transcoded into itself, so that digits can be played into the stream.
pub fn decide(offered: &[Fmt], answered: &[Fmt], o: &Options, inject: bool) -> Result<Option<(XcodeSide, XcodeSide)>, NgError> {
    let Some(cb) = answered.iter().find(|f| f.is_audio()) else { return Ok(None) };
    let shared = offered.iter().any(|f| f.same_codec(cb));
    let accept: Vec<&String> = o.codec_accept.iter().collect();
    let all = o.always_transcode;
    let inject = inject && shared && cb.kind().is_some();
    // the offerer's codec: the answerer's one for `inject DTMF`; else the first accepted
    // one, else (the answerer's is foreign to the offerer) the first eagw can transcode
    let ca = if inject {
        offered.iter().find(|f| f.same_codec(cb))
    } else if all || !accept.is_empty() {
        offered.iter().filter(|f| f.is_audio() && f.kind().is_some()).find(|f| all || accept.iter().any(|s| fmt_matches(s, f)))
    } else if shared {
        None
    } else {
        offered.iter().find(|f| f.is_audio() && f.kind().is_some())
    };
    let asked = o.codec_transcode.iter().chain(&o.codec_mask).chain(&o.codec_consume).next().is_some();
    let Some(ca) = ca else {
        if !shared && asked {
            return Err(NgError::new(format!("answer codec {}/{} cannot be transcoded to any offered codec", cb.name, cb.clock)));
        }
        return Ok(None);
    };
    if cb.kind().is_none() {
        if shared || !asked {
            return Ok(None);
        }
        return Err(NgError::new(format!("answer codec {}/{} cannot be transcoded", cb.name, cb.clock)));
    }
    // accepting the codec the answerer picked anyway is pass-through
    if ca.same_codec(cb) && !o.force_transcoding && !inject {
        return Ok(None);
    }
    match (side(ca, offered), side(cb, answered)) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        _ => Ok(None),
    }
}

/// Rewrites the answer towards the offerer (`m_out`, a copy of the answerer's section) to
/// the offerer's codec of `a`, with its telephone-event (eagw turns events into tones and
/// in-band digits into events when the answerer has none) and its comfort noise (eagw reads
/// it as silence, and sends it in pauses towards G.711), whatever the answerer (`_b`) has.
pub fn rewrite_answer(m_out: &mut Media, a: &XcodeSide, _b: &XcodeSide, offered: &[Fmt]) {
    m_out.remove_attrs(|n, _| matches!(n, "rtpmap" | "fmtp" | "rtcp-fb"));
    let mut formats = vec![a.codec.pt];
    if let Some((p, _)) = a.dtmf {
        formats.push(p);
    }
    if let Some(p) = a.cn {
        formats.push(p);
    }
    m_out.formats = formats.iter().map(|p| p.to_string()).collect();
    for p in formats {
        let Some(f) = offered.iter().find(|f| f.pt == p) else { continue };
        let ch = f.channels.map(|c| format!("/{c}")).unwrap_or_default();
        m_out.lines.push(Line { kind: b'a', value: format!("rtpmap:{p} {}/{}{ch}", f.name, f.clock) });
        if !f.fmtp.is_empty() {
            m_out.lines.push(Line { kind: b'a', value: format!("fmtp:{p} {}", f.fmtp) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp;

    fn media(s: &str) -> Media {
        sdp::parse(&format!("v=0\r\no=- 1 1 IN IP4 1.1.1.1\r\ns=-\r\nc=IN IP4 1.1.1.1\r\nt=0 0\r\n{s}")).unwrap().media.remove(0)
    }

    fn opts() -> Options {
        Options::default()
    }

    const BROWSER: &str = "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:126 telephone-event/8000\r\n";
    const IMS: &str = "m=audio 4000 RTP/AVP 96 97\r\na=rtpmap:96 AMR-WB/16000\r\na=fmtp:96 mode-set=0,1,2\r\na=rtpmap:97 telephone-event/16000\r\n";

    #[test]
    fn transcode_adds_the_codec_and_a_telephone_event_at_its_clock() {
        let a = media(BROWSER);
        let mut out = a.clone();
        let mut o = opts();
        o.codec_transcode = vec!["AMR-WB".into(), "PCMA".into(), "G729".into()];
        let notes = add_transcodes(&mut out, &formats_of(&a), &o);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let f = formats_of(&out);
        let amr = f.iter().find(|f| f.name == "AMR-WB").unwrap();
        assert!(amr.pt >= 96 && amr.pt != 111 && amr.pt != 126);
        assert!(f.iter().any(|f| f.is_dtmf() && f.clock == 16000));
        // PCMA was offered already: not added twice
        assert_eq!(f.iter().filter(|f| f.name == "PCMA").count(), 1);
    }

    #[test]
    fn answer_with_a_foreign_codec_transcodes_and_rewrites_towards_the_offerer() {
        let a = media(BROWSER);
        let b = media(IMS);
        let (xa, xb) = decide(&formats_of(&a), &formats_of(&b), &opts(), false).unwrap().unwrap();
        assert_eq!((xa.codec.pt, xa.codec.kind, xa.dtmf), (111, CodecKind::Opus, Some((126, 8000))));
        assert_eq!((xb.codec.pt, xb.codec.kind, xb.dtmf), (96, CodecKind::AmrWb, Some((97, 16000))));
        assert_eq!(xb.codec.fmtp, "mode-set=0,1,2");
        let mut out = b.clone();
        rewrite_answer(&mut out, &xa, &xb, &formats_of(&a));
        assert_eq!(out.formats, vec!["111", "126"]);
        let f = formats_of(&out);
        assert_eq!(f[0].fmtp, "minptime=10;useinbandfec=1");
        assert_eq!((f[0].name.as_str(), f[0].channels), ("opus", Some(2)));
    }

    #[test]
    fn codec_set_specs_read_as_rtpengine_writes_them() {
        let opus = |b: Option<u32>, c: Option<u8>| Ok(Some((CodecKind::Opus, EncoderSettings { bitrate: b, complexity: c, dtx: None })));
        assert_eq!(parse_set("opus/48000/2/24000"), opus(Some(24000), None));
        assert_eq!(parse_set("opus/48000/1/16000"), opus(Some(16000), None));
        assert_eq!(parse_set("opus/48000/2////compression_level=2"), opus(None, Some(2)));
        assert_eq!(parse_set("opus/48000/2/32000///complexity--7, foo=1").unwrap_err(), "option foo is not supported for opus");
        assert_eq!(parse_set("opus/48000/2/32000///complexity--7"), opus(Some(32000), Some(7)));
        let amr = parse_set("AMR-WB/16000/1/23850").unwrap().unwrap();
        assert_eq!(amr, (CodecKind::AmrWb, EncoderSettings { bitrate: Some(23850), ..Default::default() }));
        let amr = parse_set("AMR-WB/16000/1////dtx=1").unwrap().unwrap();
        assert_eq!(amr, (CodecKind::AmrWb, EncoderSettings { dtx: Some(true), ..Default::default() }));
        assert!(parse_set("AMR-WB/16000/1////dtx=2").unwrap_err().contains("not 0 or 1"));
        // nothing asked: no settings, no error
        assert_eq!(parse_set("opus"), Ok(None));
        assert_eq!(parse_set("AMR-WB/16000/1"), Ok(None));
        assert_eq!(parse_set("PCMA/8000/1/64000"), Ok(Some((CodecKind::Pcma, EncoderSettings::default()))));
        // what cannot be followed is said
        assert!(parse_set("opus/48000/2/1000").unwrap_err().contains("outside 6000–510000"));
        assert!(parse_set("AMR-WB/16000/1/fast").unwrap_err().contains("not a number"));
        assert!(parse_set("G729/8000/1/8000").unwrap_err().contains("does not encode"));
        assert!(parse_set("opus/48000/2////complexity=11").unwrap_err().contains("0–10"));
        // several specs: the first that sets each setting, for the codec asked
        let sets = [parse_set("AMR-WB/16000/1/8850").unwrap().unwrap(), parse_set("opus/48000/2/20000").unwrap().unwrap(), parse_set("opus/48000/2/40000///complexity=3").unwrap().unwrap()];
        assert_eq!(settings_for(&sets, CodecKind::Opus), EncoderSettings { bitrate: Some(20000), complexity: Some(3), dtx: None });
        assert_eq!(settings_for(&sets, CodecKind::Pcmu), EncoderSettings::default());
    }

    #[test]
    fn a_shared_codec_passes_through_unless_accept_says_otherwise() {
        let a = media(BROWSER);
        let b = media("m=audio 4000 RTP/AVP 8 96\r\na=rtpmap:96 AMR-WB/16000\r\n");
        assert_eq!(decide(&formats_of(&a), &formats_of(&b), &opts(), false).unwrap(), None);
        let mut o = opts();
        o.codec_accept = vec!["opus".into()];
        let (xa, xb) = decide(&formats_of(&a), &formats_of(&b), &o, false).unwrap().unwrap();
        assert_eq!((xa.codec.kind, xb.codec.kind), (CodecKind::Opus, CodecKind::Pcma));
        let mut o = opts();
        o.always_transcode = true;
        assert_eq!(decide(&formats_of(&a), &formats_of(&b), &o, false).unwrap().unwrap().0.codec.pt, 111);
        // accepting what was answered anyway: pass-through
        let mut o = opts();
        o.codec_accept = vec!["PCMA".into()];
        assert_eq!(decide(&formats_of(&a), &formats_of(&b), &o, false).unwrap(), None);
        // inject DTMF: the shared codec is transcoded into itself (not into the offerer's
        // first, Opus), so that digits can be played into it
        let (xa, xb) = decide(&formats_of(&a), &formats_of(&b), &opts(), true).unwrap().unwrap();
        assert_eq!((xa.codec.kind, xb.codec.kind), (CodecKind::Pcma, CodecKind::Pcma));
        // nothing shared: transcoded as without it
        let c = media("m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 AMR-WB/16000\r\n");
        let (xa, xb) = decide(&formats_of(&a), &formats_of(&c), &opts(), true).unwrap().unwrap();
        assert_eq!((xa.codec.kind, xb.codec.kind), (CodecKind::Opus, CodecKind::AmrWb));
    }

    #[test]
    fn an_untranscodable_answer_after_transcode_flags_is_an_error() {
        let a = media(BROWSER);
        let b = media("m=audio 4000 RTP/AVP 18\r\n");
        let mut o = opts();
        o.codec_mask = vec!["all".into()];
        o.codec_transcode = vec!["G729".into()];
        assert!(decide(&formats_of(&a), &formats_of(&b), &o, false).is_err());
        // without flags: left alone (pass-through, as before)
        assert_eq!(decide(&formats_of(&a), &formats_of(&b), &opts(), false).unwrap(), None);
    }
}
