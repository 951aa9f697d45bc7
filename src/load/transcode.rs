//! `eagw load transcode`: whole transcoded calls for density. Per call an Opus party (a
//! browser's encoder settings) offers Opus with `codec: {mask: [all], transcode: [X]}`
//! and an IMS party answers X (AMR-WB or PCMA); both then send real frames of speech-like
//! audio (pre-encoded, looped) every 20 ms for the media phase, so the gateway decodes,
//! conceals nothing and encodes every frame both ways. Reports the gateway's CPU (`--pid`),
//! packets received per direction and, from an eagw gateway's `statistics`, the frames it
//! sent late (more than 5 ms after their playout tick).
//!
//! Works against rtpengine as well (checked with 10.5: it answers the offer with PCMA 8 /
//! AMR-WB and the PCMA answer with the offerer's Opus 111, and transcodes both ways; its
//! `statistics` has `transcodedmedia` but no frame counters, so those columns stay empty).
//! Received packets are counted per direction only with the payload type the receiving
//! party negotiated; their mean payload size and, towards the Opus party, the Opus TOC
//! (bandwidth, mono/stereo) show what the gateway's encoder produced. Loopback only; every
//! phase is bounded.

use super::sys;
use crate::codec::amrwb::AmrwbEncoder;
use crate::codec::amrwb_rtp::{self, Framing};
use crate::codec::g711::{G711Encoder, Law};
use crate::codec::opus::{OpusConfig, OpusEncoder};
use crate::codec::{frame_samples, Encoder};
use crate::control::bencode::{self, DictBuilder, Value};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HELP: &str = "\
eagw load transcode --ng ADDR [--pid PID] [--calls N] [--duration S] [--codec amrwb|pcma] [--talk] [--name NAME] [--json]

Sets up N calls Opus <-> CODEC (default amrwb) over ng with codec mask=all transcode=CODEC,
sends 50 real frames/s each way per call for S seconds (default 20), then deletes them.
Reports the gateway's CPU (--pid: per call, per packet, calls per core), packets received
per direction with the negotiated payload type (others counted apart), their mean payload
size and the Opus TOC towards the Opus party, `transcodedmedia` from `statistics`, and
(eagw) frames transcoded, concealed and late (> 5 ms after their playout tick).
--talk: a conversation instead of both talking at once: each party talks for 2 s and then
sends quiet frames (-60 dBFS noise, still 50/s, as a browser without DTX does) for 2 s
while the other talks; calls take turns out of step.
Works against eagw and rtpengine (10.5: Opus <-> PCMA; it has no AMR-WB encoder).
";

struct Opts {
    ng: SocketAddr,
    pid: Option<u32>,
    calls: usize,
    duration: f64,
    amr: bool,
    talk: bool,
    json: bool,
    name: String,
}

fn parse(args: &[String]) -> Result<Option<Opts>, String> {
    let mut o = Opts { ng: SocketAddr::from(([127, 0, 0, 1], 2223)), pid: None, calls: 20, duration: 20.0, amr: true, talk: false, json: false, name: String::new() };
    let mut it = args.iter();
    let mut ng = None;
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--ng" => ng = Some(val()?),
            "--pid" => o.pid = Some(val()?.parse().map_err(|_| "bad --pid")?),
            "--calls" => o.calls = val()?.parse().map_err(|_| "bad --calls")?,
            "--duration" => o.duration = val()?.parse().map_err(|_| "bad --duration")?,
            "--codec" => {
                o.amr = match val()?.to_ascii_lowercase().as_str() {
                    "amrwb" | "amr-wb" => true,
                    "pcma" => false,
                    c => return Err(format!("--codec {c}: amrwb or pcma")),
                }
            }
            "--json" => o.json = true,
            "--talk" => o.talk = true,
            "--name" => o.name = val()?,
            x => return Err(format!("unknown option {x}")),
        }
    }
    let ng: SocketAddr = ng.ok_or("--ng is required")?.parse().map_err(|e| format!("--ng: {e}"))?;
    if !ng.ip().is_loopback() {
        return Err("--ng must be a loopback address".into());
    }
    if o.calls == 0 || o.calls > 2000 || !(1.0..=600.0).contains(&o.duration) {
        return Err("--calls 1..2000, --duration 1..600".into());
    }
    o.ng = ng;
    Ok(Some(o))
}

/// A blocking ng client (set-up is not what this mode measures).
struct Ng {
    sock: UdpSocket,
    n: u64,
}

impl Ng {
    fn req(&mut self, v: &Value) -> Result<Value, String> {
        self.n += 1;
        let cookie = format!("xl{}_{}", std::process::id(), self.n);
        let mut msg = format!("{cookie} ").into_bytes();
        bencode::encode(v, &mut msg);
        let mut buf = vec![0u8; 65536];
        for _ in 0..5 {
            self.sock.send(&msg).map_err(|e| e.to_string())?;
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(1) {
                let Ok(n) = self.sock.recv(&mut buf) else { break };
                if let Some(body) = buf[..n].strip_prefix(cookie.as_bytes()).and_then(|b| b.strip_prefix(b" ")) {
                    return bencode::decode_all(body).map_err(|e| format!("reply: {e:?}"));
                }
            }
        }
        Err("no ng reply".into())
    }
}

fn sdp(addr: SocketAddr, amr_side: Option<bool>) -> String {
    let media = match amr_side {
        None => "m=audio {p} RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n".to_string(),
        Some(true) => "m=audio {p} RTP/AVP 96\r\na=rtpmap:96 AMR-WB/16000\r\n".to_string(),
        Some(false) => "m=audio {p} RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n".to_string(),
    };
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 {}\r\nt=0 0\r\n{}a=sendrecv\r\n",
        addr.ip(),
        media.replace("{p}", &addr.port().to_string())
    )
}

/// Speech-like test audio: two vowel-ish harmonic series gliding in pitch, with syllable
/// envelopes (no silence: every frame is coded as speech).
fn audio(rate: u32, frames: usize) -> Vec<i16> {
    let n = frame_samples(rate) * frames;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let f0 = 120.0 + 40.0 * (t * 1.3).sin();
            let env = 0.55 + 0.45 * (t * 2.0 * std::f64::consts::PI * 4.0).sin().abs();
            let v: f64 = (1..=12).map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64).sum();
            (v * env * 5000.0).clamp(-32000.0, 32000.0) as i16
        })
        .collect()
}

/// One second of payloads, one per 20 ms frame.
type Frames = Vec<Vec<u8>>;

/// A listener's quiet: low-level noise, about -60 dBFS (deterministic LCG).
fn quiet(rate: u32, frames: usize) -> Vec<i16> {
    let mut seed = 99u32;
    (0..frame_samples(rate) * frames)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((seed >> 16) % 61) as i16 - 30
        })
        .collect()
}

/// 50 payloads (1 s, looped) of each side's codec: speech-like audio, or with `hush`
/// the quiet of a party that listens.
fn payloads(amr: bool, hush: bool) -> Result<(Frames, Frames), String> {
    let sound = |rate: u32| if hush { quiet(rate, 50) } else { audio(rate, 50) };
    let e = |x: crate::codec::Error| x.to_string();
    let mut opus = OpusEncoder::new(OpusConfig { sample_rate: 48000, bitrate: 32000, complexity: 10, ..Default::default() }).map_err(e)?;
    let mut other: Box<dyn Encoder> = if amr { Box::new(AmrwbEncoder::new(2).map_err(e)?) } else { Box::new(G711Encoder::new(Law::A)) };
    let mut buf = [0u8; 1500];
    let mut a = vec![];
    for f in sound(48000).chunks(960) {
        let k = opus.encode(f, &mut buf).map_err(e)?;
        a.push(buf[..k].to_vec());
    }
    let rate = other.sample_rate();
    let mut b = vec![];
    for f in sound(rate).chunks(frame_samples(rate)) {
        let k = other.encode(f, &mut buf).map_err(e)?;
        if amr {
            let fr = amrwb_rtp::Frame::from_storage(&buf[..k]).map_err(e)?;
            let mut p = [0u8; 80];
            let n = amrwb_rtp::packetize(amrwb_rtp::CMR_NONE, &[fr], Framing::BandwidthEfficient, &mut p).map_err(e)?;
            b.push(p[..n].to_vec());
        } else {
            b.push(buf[..k].to_vec());
        }
    }
    Ok((a, b))
}

/// An Opus TOC octet (RFC 6716 §3.1): mode, audio bandwidth, mono or stereo.
fn opus_toc(t: u8) -> String {
    let c = t >> 3;
    let (mode, bw) = match c {
        0..=3 => ("SILK", "NB"),
        4..=7 => ("SILK", "MB"),
        8..=11 => ("SILK", "WB"),
        12..=13 => ("hybrid", "SWB"),
        14..=15 => ("hybrid", "FB"),
        16..=19 => ("CELT", "NB"),
        20..=23 => ("CELT", "WB"),
        24..=27 => ("CELT", "SWB"),
        _ => ("CELT", "FB"),
    };
    format!("{mode} {bw} {}", if t & 4 != 0 { "stereo" } else { "mono" })
}

fn stat(v: &Value, group: &str, key: &str) -> Option<i64> {
    v.get("statistics")?.get(group)?.get(key)?.as_int()
}

pub fn main(args: &[String]) -> i32 {
    let o = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{HELP}");
            return 0;
        }
        Err(e) => {
            eprintln!("eagw load transcode: {e}");
            return 2;
        }
    };
    match run(&o) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("eagw load transcode: {e}");
            1
        }
    }
}

fn run(o: &Opts) -> Result<(), String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    sock.connect(o.ng).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_millis(300))).map_err(|e| e.to_string())?;
    let mut ng = Ng { sock, n: 0 };
    let (pa, pb) = payloads(o.amr, false)?;
    let (qa, qb) = payloads(o.amr, true)?;
    let (codec, pt_b) = if o.amr { ("AMR-WB", 96u8) } else { ("PCMA", 8u8) };
    let run_id = std::process::id();
    // set up: (socket, gateway address) for A and B of each call
    let mut legs: Vec<(UdpSocket, SocketAddr, UdpSocket, SocketAddr, u8)> = vec![];
    for i in 0..o.calls {
        let (a, la) = sys::bind_udp(std::net::Ipv4Addr::LOCALHOST.into(), 1 << 20).map_err(|e| e.to_string())?;
        let (b, lb) = sys::bind_udp(std::net::Ipv4Addr::LOCALHOST.into(), 1 << 20).map_err(|e| e.to_string())?;
        let call = format!("xload-{run_id}-{i}");
        let codecs = DictBuilder::new()
            .val("mask", Value::List(vec![Value::str("all")]))
            .val("transcode", Value::List(vec![Value::str(codec)]))
            .build();
        let off = DictBuilder::new()
            .str("command", "offer")
            .str("call-id", &call)
            .str("from-tag", "a")
            .str("sdp", sdp(la, None))
            .val("codec", codecs)
            .build();
        let r = ng.req(&off)?;
        let sdp_b = r.get("sdp").and_then(Value::as_str).ok_or_else(|| format!("offer {i}: {r:?}"))?;
        let gw_b = super::ng_client::sdp_audio_addr(sdp_b.as_bytes())?;
        // the PT the gateway chose for the codec it added
        let pt = sdp_b
            .lines()
            .find_map(|l| l.strip_prefix("a=rtpmap:").filter(|v| v.contains(codec)).and_then(|v| v.split(' ').next()?.parse().ok()))
            .unwrap_or(pt_b);
        let ans = DictBuilder::new()
            .str("command", "answer")
            .str("call-id", &call)
            .str("from-tag", "a")
            .str("to-tag", "b")
            .str("sdp", sdp(lb, Some(o.amr)).replace(&format!(" {pt_b}\r\n"), &format!(" {pt}\r\n")).replace(&format!("rtpmap:{pt_b} "), &format!("rtpmap:{pt} ")))
            .build();
        let r = ng.req(&ans)?;
        let sdp_a = r.get("sdp").and_then(Value::as_str).ok_or_else(|| format!("answer {i}: {r:?}"))?;
        let gw_a = super::ng_client::sdp_audio_addr(sdp_a.as_bytes())?;
        legs.push((a, gw_a, b, gw_b, pt));
    }

    let stats0 = ng.req(&DictBuilder::new().str("command", "statistics").build()).ok();
    // receiver: per direction (0: towards the CODEC party, 1: towards the Opus party), packets
    // with the payload type that party negotiated, their payload octets, other packets
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let octets = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let other = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    // the last Opus TOC octet seen towards the Opus party (+ 1; 0: none)
    let toc = Arc::new(AtomicU64::new(0));
    let fds: Vec<(i32, usize, u8)> = legs.iter().flat_map(|l| [(l.0.as_raw_fd(), 1, 111u8), (l.2.as_raw_fd(), 0, l.4)]).collect();
    let rx = {
        let (stop, got, octets, other, toc) = (stop.clone(), got.clone(), octets.clone(), other.clone(), toc.clone());
        std::thread::spawn(move || {
            let ep = unsafe { libc::epoll_create1(0) };
            for (k, (fd, _, _)) in fds.iter().enumerate() {
                let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: k as u64 };
                unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, *fd, &mut ev) };
            }
            let mut evs = sys::empty_events(256);
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let n = unsafe { libc::epoll_wait(ep, evs.as_mut_ptr(), evs.len() as i32, 100) };
                for ev in &evs[..n.max(0) as usize] {
                    let (fd, dir, pt) = fds[ev.u64 as usize];
                    while let Some(n) = sys::recv(fd, &mut buf) {
                        // RTP v2 without CSRCs or extension (what both gateways send)
                        if n > 12 && buf[0] == 0x80 && buf[1] & 0x7f == pt {
                            got[dir].fetch_add(1, Ordering::Relaxed);
                            octets[dir].fetch_add(n as u64 - 12, Ordering::Relaxed);
                            if dir == 1 {
                                toc.store(buf[12] as u64 + 1, Ordering::Relaxed);
                            }
                        } else {
                            other[dir].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            unsafe { libc::close(ep) };
        })
    };
    // sender: every call both ways each 20 ms, spread evenly over the period
    let rounds = (o.duration * 50.0) as u64;
    let n = legs.len() as u64;
    let dests: Vec<(sys::RawAddr, sys::RawAddr)> = legs.iter().map(|l| (sys::RawAddr::new(&l.1), sys::RawAddr::new(&l.3))).collect();
    let cpu0 = o.pid.and_then(|p| sys::proc_cpu_s(p).ok());
    let (wait0, steal0) = (o.pid.and_then(|p| sys::proc_runqueue_wait_s(p, "eagw-worker")), sys::host_steal_s());
    let t0 = sys::mono_ns() + 20_000_000;
    let mut pkt = vec![0u8; 1600];
    let mut sent = [0u64; 2];
    for j in 0..rounds {
        for (k, (l, d)) in legs.iter().zip(&dests).enumerate() {
            sys::sleep_until_ns(t0 + j * 20_000_000 + k as u64 * 20_000_000 / n);
            // --talk: A talks in even 2 s turns (shifted by the call's index), B in the others
            let a_talks = !o.talk || (j / 100 + k as u64) % 2 == 0;
            let b_talks = !o.talk || !a_talks;
            let f = (j % 50) as usize;
            for (side, (fd, dst, payload, pt, step, ssrc)) in [
                (l.0.as_raw_fd(), &d.0, if a_talks { &pa[f] } else { &qa[f] }, 111u8, 960u32, 0x1000 + k as u32),
                (l.2.as_raw_fd(), &d.1, if b_talks { &pb[f] } else { &qb[f] }, l.4, if o.amr { 320 } else { 160 }, 0x2000 + k as u32),
            ]
            .into_iter()
            .enumerate()
            {
                pkt[0] = 0x80;
                pkt[1] = pt | if j == 0 { 0x80 } else { 0 };
                pkt[2..4].copy_from_slice(&(j as u16).to_be_bytes());
                pkt[4..8].copy_from_slice(&((j as u32).wrapping_mul(step)).to_be_bytes());
                pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
                pkt[12..12 + payload.len()].copy_from_slice(payload);
                if sys::send_to(fd, &pkt[..12 + payload.len()], dst) {
                    sent[side] += 1;
                }
            }
        }
    }
    let wall = (sys::mono_ns() - t0) as f64 / 1e9;
    let cpu1 = o.pid.and_then(|p| sys::proc_cpu_s(p).ok());
    let (wait1, steal1) = (o.pid.and_then(|p| sys::proc_runqueue_wait_s(p, "eagw-worker")), sys::host_steal_s());
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let _ = rx.join();
    let stats1 = ng.req(&DictBuilder::new().str("command", "statistics").build()).ok();
    for i in 0..o.calls {
        let del = DictBuilder::new().str("command", "delete").str("call-id", format!("xload-{run_id}-{i}")).str("from-tag", "a").build();
        let _ = ng.req(&del);
    }

    let diff = |k: &str| match (&stats0, &stats1) {
        (Some(a), Some(b)) => Some(stat(b, "totalstatistics", k)? - stat(a, "totalstatistics", k)?),
        _ => None,
    };
    let (frames, late, concealed) = (diff("transcodedframes"), diff("lateframes"), diff("concealedframes"));
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some((b - a) / wall),
        _ => None,
    };
    // what kept the workers from running: the guest's scheduler (run-queue wait, ms per
    // second of the run, all workers) and the host (steal, % of the machine's CPU time)
    let wait_ms = wait0.zip(wait1).map(|(a, b)| 1000.0 * (b - a) / wall);
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let steal_pct = steal0.zip(steal1).map(|(a, b)| 100.0 * (b - a) / (wall * ncpu));
    let recv = [got[0].load(Ordering::Relaxed), got[1].load(Ordering::Relaxed)];
    let others = [other[0].load(Ordering::Relaxed), other[1].load(Ordering::Relaxed)];
    let mean_octets = |d: usize| if recv[d] > 0 { octets[d].load(Ordering::Relaxed) as f64 / recv[d] as f64 } else { 0.0 };
    let toc = match toc.load(Ordering::Relaxed) {
        0 => "-".to_string(),
        t => opus_toc((t - 1) as u8),
    };
    let transcoded_media = stats0.as_ref().and_then(|v| stat(v, "currentstatistics", "transcodedmedia"));
    // CPU per call (ms of CPU per second of call) and per packet the gateway received
    let per_call_ms = cpu.map(|c| 1000.0 * c / o.calls as f64);
    let per_pkt_us = cpu.filter(|_| sent[0] + sent[1] > 0).map(|c| 1e6 * c * wall / (sent[0] + sent[1]) as f64);
    let pct = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) if b > 0 => format!("{:.3}", 100.0 * a as f64 / b as f64),
        _ => "-".into(),
    };
    let cores = cpu.map_or("-".into(), |c| format!("{c:.3}"));
    let per_core = cpu.filter(|&c| c > 0.0).map_or("-".into(), |c| format!("{:.1}", o.calls as f64 / c));
    if o.json {
        println!(
            "{{\"name\":\"{}\",\"calls\":{},\"codec\":\"{codec}\",\"duration_s\":{wall:.2},\"gateway_cores\":{},\"calls_per_core\":{},\"cpu_ms_per_call_s\":{},\"cpu_us_per_packet\":{},\"sent\":[{},{}],\"received\":[{},{}],\"other_received\":[{},{}],\"mean_payload\":[{:.1},{:.1}],\"opus_toc\":\"{toc}\",\"transcodedmedia\":{},\"frames\":{},\"late_pct\":\"{}\",\"concealed_pct\":\"{}\",\"worker_runqueue_ms_per_s\":{},\"host_steal_pct\":{}}}",
            o.name.replace('"', ""),
            o.calls,
            cpu.map_or("null".into(), |c| format!("{c:.4}")),
            cpu.filter(|&c| c > 0.0).map_or("null".into(), |c| format!("{:.2}", o.calls as f64 / c)),
            per_call_ms.map_or("null".into(), |c| format!("{c:.3}")),
            per_pkt_us.map_or("null".into(), |c| format!("{c:.1}")),
            sent[0],
            sent[1],
            recv[0],
            recv[1],
            others[0],
            others[1],
            mean_octets(0),
            mean_octets(1),
            transcoded_media.unwrap_or(-1),
            frames.unwrap_or(-1),
            pct(late, frames),
            pct(concealed, frames),
            wait_ms.map_or("null".into(), |w| format!("{w:.2}")),
            steal_pct.map_or("null".into(), |p| format!("{p:.2}")),
        );
    } else {
        let name = if o.name.is_empty() { String::new() } else { format!("{}: ", o.name) };
        println!("{name}transcoded calls: {} (Opus <-> {codec}), media {wall:.1} s; gateway reports {} transcoded media", o.calls, transcoded_media.map_or("-".into(), |t| t.to_string()));
        println!(
            "gateway CPU: {cores} cores -> {per_core} calls per core; {} CPU-ms per call-second, {} CPU-µs per packet received",
            per_call_ms.map_or("-".into(), |c| format!("{c:.2}")),
            per_pkt_us.map_or("-".into(), |c| format!("{c:.1}"))
        );
        println!(
            "packets: Opus->{codec} sent {} received {} (mean payload {:.1} B); {codec}->Opus sent {} received {} (mean payload {:.1} B, TOC {toc}); other packets received {} / {}",
            sent[0],
            recv[0],
            mean_octets(0),
            sent[1],
            recv[1],
            mean_octets(1),
            others[0],
            others[1]
        );
        println!("frames transcoded {} late {} % concealed {} %", frames.map_or("-".into(), |f| f.to_string()), pct(late, frames), pct(concealed, frames));
        println!(
            "workers runnable but not running {} ms per second; host steal {} % of the machine's CPU time",
            wait_ms.map_or("-".into(), |w| format!("{w:.2}")),
            steal_pct.map_or("-".into(), |p| format!("{p:.2}"))
        );
    }
    if recv[0] == 0 || recv[1] == 0 {
        return Err("nothing received in one direction".into());
    }
    Ok(())
}
