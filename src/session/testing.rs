//! A fake [`MediaSockets`] for tests, benches and fuzzing of the session model without
//! sockets.

use super::{Handle, LocalPort, MediaSockets, Options, SocketReport, Wiring};
use crate::sdp::Family;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

#[derive(Default)]
pub struct FakeSockets {
    next: u32,
    next_port: u16,
    pub open: HashMap<Handle, SocketAddr>,
    pub wiring: HashMap<Handle, Wiring>,
    /// `play DTMF` digits taken, by socket.
    pub played: Vec<(Handle, Vec<crate::media::transcode::PlayDigit>)>,
    /// Sockets whose party's DTMF is blocked, with its telephone-event payload types.
    pub blocked: Vec<(Handle, Vec<u8>)>,
}

impl FakeSockets {
    pub fn open_count(&self) -> usize {
        self.open.len()
    }
}

impl MediaSockets for FakeSockets {
    fn open(&mut self, iface: usize, family: Family, rtcp: bool) -> Result<(LocalPort, Option<LocalPort>), String> {
        let ip: IpAddr = match family {
            Family::Ip4 => [10, 0, 0, iface as u8 + 1].into(),
            Family::Ip6 => "2001:db8::1".parse().map_err(|_| "ip")?,
        };
        let port = 30000 + self.next_port;
        self.next_port = self.next_port.wrapping_add(2) % 20000;
        let mut mk = |p: u16| {
            let h = self.next;
            self.next += 1;
            let a = SocketAddr::new(ip, p);
            self.open.insert(h, a);
            LocalPort { handle: h, bound: a, advertised: ip }
        };
        let r = mk(port);
        let c = rtcp.then(|| mk(port + 1));
        Ok((r, c))
    }
    fn close(&mut self, h: Handle) {
        self.open.remove(&h);
        self.wiring.remove(&h);
    }
    fn wire(&mut self, h: Handle, w: Wiring) {
        self.wiring.insert(h, w);
    }
    fn report(&self, _h: Handle) -> SocketReport {
        SocketReport::default()
    }
    fn block_dtmf(&mut self, h: Handle, on: bool, pts: &[u8]) {
        self.blocked.retain(|b| b.0 != h);
        if on {
            self.blocked.push((h, pts.to_vec()));
        }
    }
    fn play_dtmf(&mut self, h: Handle, digits: &[crate::media::transcode::PlayDigit]) -> Result<(), String> {
        match self.wiring.get(&h) {
            Some(w) if w.transcode.is_some() => {
                self.played.push((h, digits.to_vec()));
                Ok(())
            }
            _ => Err("not transcoded".into()),
        }
    }
}

/// Options for an offer from tag `a` and an answer from tag `b` with these SDPs.
pub fn offer_answer_options(offer: &str, answer: &str) -> (Options, Options) {
    let o = Options {
        call_id: "c".into(),
        from_tag: "a".into(),
        sdp: Some(offer.into()),
        replace_origin: true,
        ..Default::default()
    };
    let a = Options {
        call_id: "c".into(),
        from_tag: "a".into(),
        to_tag: Some("b".into()),
        sdp: Some(answer.into()),
        ..Default::default()
    };
    (o, a)
}
