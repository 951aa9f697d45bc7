//! A worker's TURN sockets: its own UDP listener on each TURN address (SO_REUSEPORT:
//! every worker binds the same port and the kernel keeps a client's 5-tuple on one of
//! them), and the relay sockets of the allocations it owns, bound in its slice of the
//! relay port range. Epoll tokens of TURN sockets live above [`TOKEN_BASE`], apart from
//! the media sockets' slab indices, so the media path is untouched.
//!
//! A UDP listener's readiness is served with one `recvmmsg` (up to `sys::MMSG_MAX`
//! datagrams); datagrams from peers to UDP clients are batched per listener and leave with
//! `sendmmsg` at the end of the worker's epoll round; relay sockets get one `recvfrom` per
//! readiness and a `sendto` per datagram. The protocol is in `turn::server`.

use super::sys;
use crate::config::Config;
use crate::turn::framer::Framer;
use crate::turn::tls::{TlsEnd, TlsStream};
use crate::turn::server::{Client, ClientOut, PeerOut, Relays, TurnServer, TurnShared, HEADROOM, STREAM_VIA};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

/// Tokens at or above this are TURN sockets.
pub const TOKEN_BASE: u64 = 1 << 40;
const LISTENER: u64 = 1 << 40;
const RELAY: u64 = 2 << 40;
const TCP_LISTENER: u64 = 3 << 40;
const CONN: u64 = 4 << 40;
const TLS_LISTENER: u64 = 5 << 40;
/// Stream connections one worker holds at most; bytes queued towards a slow one at most.
const MAX_CONNS: usize = 10_000;
const MAX_QUEUED: usize = 1 << 20;
const READ_CHUNK: usize = 16 * 1024;
/// A connection without an allocation that sends nothing for this long is closed.
const IDLE_NS: u64 = 30_000_000_000;
/// A UDP listener's readiness is served with one `recvmmsg` of up to `sys::MMSG_MAX`
/// datagrams of at most this many bytes each (larger ones are counted as malformed).
const RX_SLOT: usize = 8192;
/// Datagrams from peers to UDP clients are queued per listener and sent with `sendmmsg`
/// at the end of the worker's epoll round, or once this many are waiting.
const TX_MAX: usize = 64;

/// A TURN client's TCP connection (its allocation's lifetime ends with it).
struct Conn {
    fd: OwnedFd,
    addr: SocketAddr,
    framer: Framer,
    /// Bytes the socket did not take yet (EPOLLOUT is on while there are some).
    out: Vec<u8>,
    /// When bytes last came in (monotonic ns).
    last_rx: u64,
    /// EPOLLOUT is on (bytes are queued).
    want_out: bool,
    /// TURN over TLS: the TLS layer between the socket and the framer.
    tls: Option<Box<TlsStream>>,
}
const INDEX: u64 = (1 << 40) - 1;

struct Family {
    ip: IpAddr,
    used: Vec<bool>,
    next: usize,
}

/// The relay sockets of one worker (handles are slab indices).
struct RelaySocks {
    socks: Vec<Option<(OwnedFd, SocketAddr, u16)>>,
    free: Vec<u32>,
    lo: u16,
    v4: Option<Family>,
    v6: Option<Family>,
    rcvbuf: usize,
}

struct Ctx<'a> {
    r: &'a mut RelaySocks,
    epoll: &'a sys::Epoll,
}

impl Relays for Ctx<'_> {
    fn open(&mut self, v6: bool) -> Option<(u32, SocketAddr)> {
        let lo = self.r.lo;
        let rcvbuf = self.r.rcvbuf;
        let fam = if v6 { self.r.v6.as_mut()? } else { self.r.v4.as_mut()? };
        let slots = fam.used.len();
        for k in 0..slots {
            let s = (fam.next + k) % slots;
            if fam.used.get(s).copied().unwrap_or(true) {
                continue;
            }
            let port = lo + s as u16;
            let addr = SocketAddr::new(fam.ip, port);
            let Ok(fd) = sys::bind_udp_with(addr, 0, rcvbuf, false) else {
                continue; // held by another program
            };
            fam.used[s] = true;
            fam.next = (s + 1) % slots;
            let h = match self.r.free.pop() {
                Some(h) => h,
                None => {
                    self.r.socks.push(None);
                    (self.r.socks.len() - 1) as u32
                }
            };
            if self.epoll.add(fd.as_raw_fd(), RELAY | h as u64).is_err() {
                fam.used[s] = false;
                self.r.free.push(h);
                return None;
            }
            self.r.socks[h as usize] = Some((fd, addr, s as u16));
            return Some((h, addr));
        }
        None
    }

    fn close(&mut self, h: u32) {
        let Some(slot) = self.r.socks.get_mut(h as usize) else { return };
        if let Some((fd, addr, s)) = slot.take() {
            self.epoll.delete(fd.as_raw_fd());
            let fam = if addr.is_ipv4() { self.r.v4.as_mut() } else { self.r.v6.as_mut() };
            if let Some(u) = fam.and_then(|f| f.used.get_mut(s as usize)) {
                *u = false;
            }
            self.r.free.push(h);
        }
    }
}

pub struct TurnIo {
    core: TurnServer,
    listeners: Vec<OwnedFd>,
    tcp_listeners: Vec<OwnedFd>,
    tls_listeners: Vec<OwnedFd>,
    tls: Option<Arc<rustls::ServerConfig>>,
    conns: Vec<Option<Conn>>,
    conn_free: Vec<u32>,
    relays: RelaySocks,
    /// `recvmmsg` slots of the UDP listeners.
    rx: Vec<u8>,
    /// Per UDP listener: datagrams to clients waiting for `sendmmsg` (ranges of `tx_data`).
    tx: Vec<Vec<(usize, usize, SocketAddr)>>,
    tx_data: Vec<u8>,
    tx_count: usize,
}

/// Queues `data` towards a connection (encrypted first on a TLS connection); false when
/// it had to be dropped (too much queued or the connection failed: the caller closes it).
fn conn_send(c: &mut Conn, token: u64, data: &[u8], epoll: &sys::Epoll) -> bool {
    if c.out.len() + data.len() > MAX_QUEUED {
        return false;
    }
    if let Some(t) = c.tls.as_mut() {
        if t.seal(data, &mut c.out).is_err() {
            return false;
        }
        return conn_flush(c, token, epoll);
    }
    let mut at = 0;
    if c.out.is_empty() {
        match sys::write(c.fd.as_raw_fd(), data) {
            Ok(n) => at = n,
            Err(_) => return false,
        }
        if at == data.len() {
            return true;
        }
    }
    c.out.extend_from_slice(&data[at..]);
    conn_want_out(c, token, epoll);
    true
}

/// Writes what is queued as far as the socket takes it; EPOLLOUT on while bytes remain.
fn conn_flush(c: &mut Conn, token: u64, epoll: &sys::Epoll) -> bool {
    if !c.out.is_empty() {
        match sys::write(c.fd.as_raw_fd(), &c.out) {
            Ok(n) if n == c.out.len() => c.out.clear(),
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(_) => return false,
        }
    }
    conn_want_out(c, token, epoll);
    true
}

fn conn_want_out(c: &mut Conn, token: u64, epoll: &sys::Epoll) {
    let want = !c.out.is_empty();
    if want != c.want_out {
        c.want_out = want;
        let _ = epoll.modify(c.fd.as_raw_fd(), token, want);
    }
}

impl TurnIo {
    pub fn new(
        cfg: &Config,
        shared: Arc<TurnShared>,
        tls: Option<Arc<rustls::ServerConfig>>,
        worker: usize,
        workers: usize,
        epoll: &sys::Epoll,
        now: u64,
    ) -> std::io::Result<TurnIo> {
        let t = &cfg.turn;
        let crypto = rtc_crypto::default_provider().map_err(|e| std::io::Error::other(format!("crypto provider: {e}")))?;
        let mut listeners = vec![];
        for (i, a) in Config::addrs(&t.listen_udp).into_iter().enumerate() {
            let fd = sys::bind_udp_with(a, 0, cfg.media.socket_rcvbuf, true)
                .map_err(|e| std::io::Error::new(e.kind(), format!("TURN listener {a}: {e}")))?;
            epoll.add(fd.as_raw_fd(), LISTENER | i as u64)?;
            listeners.push(fd);
        }
        let mut tcp_listeners = vec![];
        for (i, a) in Config::addrs(&t.listen_tcp).into_iter().enumerate() {
            let fd = sys::tcp_listen(a).map_err(|e| std::io::Error::new(e.kind(), format!("TURN TCP listener {a}: {e}")))?;
            epoll.add(fd.as_raw_fd(), TCP_LISTENER | i as u64)?;
            tcp_listeners.push(fd);
        }
        let mut tls_listeners = vec![];
        if tls.is_some() {
            for (i, a) in Config::addrs(&t.listen_tls).into_iter().enumerate() {
                let fd = sys::tcp_listen(a).map_err(|e| std::io::Error::new(e.kind(), format!("TURN TLS listener {a}: {e}")))?;
                epoll.add(fd.as_raw_fd(), TLS_LISTENER | i as u64)?;
                tls_listeners.push(fd);
            }
        }
        let listeners_n = listeners.len();
        let (min, max) = (*t.port_min.get_ref() as usize, t.port_max as usize);
        let span = (max + 1 - min) / workers.max(1);
        let lo = min + worker * span;
        let fam = |ip: Option<IpAddr>| ip.map(|ip| Family { ip, used: vec![false; span], next: 0 });
        Ok(TurnIo {
            core: TurnServer::new(shared, crypto, now),
            listeners,
            tcp_listeners,
            tls_listeners,
            tls,
            rx: vec![0; RX_SLOT * sys::MMSG_MAX],
            tx: vec![vec![]; listeners_n],
            tx_data: Vec::with_capacity(TX_MAX * 256),
            tx_count: 0,
            conns: vec![],
            conn_free: vec![],
            relays: RelaySocks { socks: vec![], free: vec![], lo: lo as u16, v4: fam(t.relay_v4()), v6: fam(t.relay_v6()), rcvbuf: cfg.media.socket_rcvbuf },
        })
    }

    pub fn on_readable(&mut self, token: u64, buf: &mut [u8], now: u64, epoll: &sys::Epoll) {
        let i = (token & INDEX) as usize;
        if token & !INDEX == LISTENER {
            let Some(fd) = self.listeners.get(i).map(|f| f.as_raw_fd()) else { return };
            let mut got = [(0usize, None); sys::MMSG_MAX];
            let Ok(k) = sys::recv_mmsg(fd, &mut self.rx, RX_SLOT, &mut got) else { return };
            for (j, &(n, from)) in got[..k].iter().enumerate() {
                let Some(from) = from else { continue };
                if n > RX_SLOT {
                    self.core.stats.malformed += 1; // truncated: larger than any TURN message we take
                    continue;
                }
                let Some(dgram) = self.rx.get(j * RX_SLOT..j * RX_SLOT + n) else { continue };
                let client = Client { via: i as u32, addr: from };
                let mut ctx = Ctx { r: &mut self.relays, epoll };
                match self.core.on_client(client, dgram, now, &mut ctx) {
                    ClientOut::None => {}
                    ClientOut::Reply(r) => {
                        if sys::send_to(fd, &r, &from).is_err() {
                            self.core.stats.send_errors += 1;
                        }
                    }
                    ClientOut::Relay { relay, peer, start, end } => {
                        let Some(Some((rfd, _, _))) = self.relays.socks.get(relay as usize) else { continue };
                        let Some(data) = dgram.get(start..end) else { continue };
                        if sys::send_to(rfd.as_raw_fd(), data, &peer).is_err() {
                            self.core.stats.send_errors += 1;
                        }
                    }
                }
            }
        } else if token & !INDEX == RELAY {
            let Some(Some((rfd, _, _))) = self.relays.socks.get(i) else { return };
            let Some(room) = buf.len().checked_sub(HEADROOM + 4) else { return };
            let Ok(Some((n, from))) = sys::recv_from(rfd.as_raw_fd(), &mut buf[HEADROOM..HEADROOM + room]) else { return };
            if n > room {
                self.core.stats.malformed += 1;
                return;
            }
            if let PeerOut::Client { client, start, end } = self.core.on_peer(i as u32, from, buf, n, now) {
                let Some(data) = buf.get(start..end) else { return };
                if client.via & STREAM_VIA != 0 {
                    let k = (client.via & !STREAM_VIA) as usize;
                    let Some(Some(c)) = self.conns.get_mut(k) else { return };
                    if !conn_send(c, CONN | k as u64, data, epoll) {
                        self.core.stats.send_errors += 1;
                    }
                    return;
                }
                let Some(q) = self.tx.get_mut(client.via as usize) else { return };
                let at = self.tx_data.len();
                self.tx_data.extend_from_slice(data);
                q.push((at, self.tx_data.len(), client.addr));
                self.tx_count += 1;
                if self.tx_count >= TX_MAX {
                    self.flush();
                }
            }
        } else if token & !INDEX == TCP_LISTENER || token & !INDEX == TLS_LISTENER {
            let tls = token & !INDEX == TLS_LISTENER;
            let listeners = if tls { &self.tls_listeners } else { &self.tcp_listeners };
            let Some(fd) = listeners.get(i).map(|f| f.as_raw_fd()) else { return };
            let Ok(Some((cfd, addr))) = sys::tcp_accept(fd) else { return };
            if self.conns.len() - self.conn_free.len() >= MAX_CONNS {
                self.core.stats.capacity += 1;
                return; // dropping cfd closes it
            }
            let tls = match (tls, &self.tls) {
                (false, _) => None,
                (true, Some(cfg)) => match TlsStream::new(cfg) {
                    Ok(t) => Some(Box::new(t)),
                    Err(_) => {
                        self.core.stats.tls_errors += 1;
                        return;
                    }
                },
                (true, None) => return,
            };
            let k = match self.conn_free.pop() {
                Some(k) => k as usize,
                None => {
                    self.conns.push(None);
                    self.conns.len() - 1
                }
            };
            if epoll.add(cfd.as_raw_fd(), CONN | k as u64).is_err() {
                self.conn_free.push(k as u32);
                return;
            }
            self.conns[k] = Some(Conn { fd: cfd, addr, framer: Framer::default(), out: vec![], last_rx: now, want_out: false, tls });
        } else if token & !INDEX == CONN {
            self.on_conn(i, buf, now, epoll);
        }
    }

    fn on_conn(&mut self, k: usize, buf: &mut [u8], now: u64, epoll: &sys::Epoll) {
        let token = CONN | k as u64;
        let Some(Some(c)) = self.conns.get_mut(k) else { return };
        // writable: flush what is queued
        if !c.out.is_empty() && !conn_flush(c, token, epoll) {
            return self.close_conn(k, epoll);
        }
        if let Some(t) = c.tls.as_mut() {
            // TLS: ciphertext into the worker's buffer, plaintext into the framer
            let n = match sys::read(c.fd.as_raw_fd(), buf) {
                Ok(Some(0)) | Err(_) => return self.close_conn(k, epoll),
                Ok(None) => 0,
                Ok(Some(n)) => n,
            };
            if n > 0 {
                c.last_rx = now;
                let end = t.receive(&buf[..n], &mut c.framer, &mut c.out);
                let flushed = conn_flush(c, token, epoll);
                match end {
                    Ok(()) if flushed => {}
                    Ok(()) | Err(TlsEnd::Closed) => return self.close_conn(k, epoll),
                    Err(TlsEnd::Error) => {
                        self.core.stats.tls_errors += 1;
                        return self.close_conn(k, epoll);
                    }
                }
            }
        } else {
            let room = c.framer.room(READ_CHUNK);
            let n = match sys::read(c.fd.as_raw_fd(), room) {
                Ok(Some(0)) | Err(_) => {
                    c.framer.filled(READ_CHUNK, 0);
                    return self.close_conn(k, epoll);
                }
                Ok(None) => 0,
                Ok(Some(n)) => n,
            };
            c.framer.filled(READ_CHUNK, n);
            if n > 0 {
                c.last_rx = now;
            }
        }
        let Some(Some(c)) = self.conns.get_mut(k) else { return };
        let client = Client { via: STREAM_VIA | k as u32, addr: c.addr };
        loop {
            let Some(Some(c)) = self.conns.get_mut(k) else { return };
            let len = match c.framer.next_message() {
                Ok(Some(m)) if m.len() <= buf.len() => {
                    buf[..m.len()].copy_from_slice(m);
                    m.len()
                }
                Ok(None) => return,
                Ok(Some(_)) | Err(_) => {
                    // not TURN, or cut beyond repair: the stream cannot be resynchronised
                    self.core.stats.malformed += 1;
                    return self.close_conn(k, epoll);
                }
            };
            let mut ctx = Ctx { r: &mut self.relays, epoll };
            match self.core.on_client(client, &buf[..len], now, &mut ctx) {
                ClientOut::None => {}
                ClientOut::Reply(r) => {
                    let Some(Some(c)) = self.conns.get_mut(k) else { return };
                    if !conn_send(c, token, &r, epoll) {
                        self.core.stats.send_errors += 1;
                        return self.close_conn(k, epoll);
                    }
                }
                ClientOut::Relay { relay, peer, start, end } => {
                    let Some(Some((rfd, _, _))) = self.relays.socks.get(relay as usize) else { continue };
                    let Some(data) = buf.get(start..end) else { continue };
                    if sys::send_to(rfd.as_raw_fd(), data, &peer).is_err() {
                        self.core.stats.send_errors += 1;
                    }
                }
            }
        }
    }

    /// Sends what waits for the UDP listeners (`sendmmsg`, up to `sys::MMSG_MAX` per call);
    /// the worker calls it at the end of every epoll round.
    pub fn flush(&mut self) {
        if self.tx_count == 0 {
            return;
        }
        for (i, q) in self.tx.iter_mut().enumerate() {
            let Some(fd) = self.listeners.get(i).map(|f| f.as_raw_fd()) else { continue };
            let mut at = 0;
            while at < q.len() {
                match sys::send_mmsg(fd, &self.tx_data, &q[at..]) {
                    Ok(k) if k > 0 => at += k,
                    _ => {
                        self.core.stats.send_errors += 1; // this one failed; go on with the next
                        at += 1;
                    }
                }
            }
            q.clear();
        }
        self.tx_data.clear();
        self.tx_count = 0;
    }

    /// Closes a stream connection and ends the allocations made over it.
    fn close_conn(&mut self, k: usize, epoll: &sys::Epoll) {
        let Some(c) = self.conns.get_mut(k).and_then(Option::take) else { return };
        epoll.delete(c.fd.as_raw_fd());
        if c.tls.as_ref().is_some_and(|t| t.handshaking()) {
            self.core.stats.tls_unfinished += 1; // closed, cut or idle before the TLS handshake completed
        }
        self.conn_free.push(k as u32);
        let before = self.core.allocations();
        let mut ctx = Ctx { r: &mut self.relays, epoll };
        self.core.close_via(STREAM_VIA | k as u32, &mut ctx);
        self.core.stats.allocations_deleted += (before - self.core.allocations()) as u64;
    }

    /// Once a second: lifetimes, and connections idle without an allocation.
    pub fn tick(&mut self, now: u64, epoll: &sys::Epoll) {
        let mut ctx = Ctx { r: &mut self.relays, epoll };
        self.core.tick(now, &mut ctx);
        let idle: Vec<usize> = (0..self.conns.len())
            .filter(|&k| {
                self.conns[k].as_ref().is_some_and(|c| {
                    now.saturating_sub(c.last_rx) > IDLE_NS
                        && !self.core.has_allocation(&Client { via: STREAM_VIA | k as u32, addr: c.addr })
                })
            })
            .collect();
        for k in idle {
            self.close_conn(k, epoll);
        }
    }

    pub fn shutdown(&mut self, epoll: &sys::Epoll) {
        let mut ctx = Ctx { r: &mut self.relays, epoll };
        self.core.close_all(&mut ctx);
    }

    pub fn stats(&self) -> crate::stats::TurnStats {
        let mut s = self.core.stats;
        s.allocations = self.core.allocations() as u64;
        s
    }
}
