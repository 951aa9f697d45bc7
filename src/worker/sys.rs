//! The thin I/O layer of a worker: level-triggered epoll, an eventfd for the command
//! inbox, and UDP sockets driven with plain `recvfrom`/`sendto`.
//!
//! Why not a tokio runtime per worker: tokio's reactor is edge-triggered, so each
//! readiness needs a read until `EAGAIN` (a third syscall per packet at 50 packets/s per
//! socket), a task per socket, and its timers fire about 1.5 ms late. A level-triggered
//! epoll loop reads exactly once per readiness and sends once: the two syscalls that are
//! the floor of a userspace relay.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Puts the calling thread under `policy` (SCHED_OTHER, SCHED_FIFO or SCHED_RR) at the
/// real-time `priority` (ignored for SCHED_OTHER). On Linux, pid 0 names the calling thread,
/// not the whole process.
pub fn set_scheduling(policy: crate::config::Scheduling, priority: u8) -> io::Result<()> {
    use crate::config::Scheduling;
    let (policy, priority) = match policy {
        Scheduling::Other => (libc::SCHED_OTHER, 0),
        Scheduling::Fifo => (libc::SCHED_FIFO, priority),
        Scheduling::Rr => (libc::SCHED_RR, priority),
    };
    let param = libc::sched_param { sched_priority: priority as libc::c_int };
    // SAFETY: plain syscall on the calling thread with a valid sched_param.
    cvt(unsafe { libc::sched_setscheduler(0, policy, &param) })?;
    Ok(())
}

pub struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: plain syscall; the fd is owned from here on.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
        Ok(())
    }

    /// Changes what `fd` is watched for: readable, and writable too when `out`.
    pub fn modify(&self, fd: RawFd, token: u64, out: bool) -> io::Result<()> {
        let events = libc::EPOLLIN as u32 | if out { libc::EPOLLOUT as u32 } else { 0 };
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) })?;
        Ok(())
    }

    pub fn delete(&self, fd: RawFd) {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: as above; errors (fd already gone) are harmless here.
        unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }

    /// Waits up to `timeout_ms` (-1: forever) and returns the number of events written.
    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
        // SAFETY: the buffer is valid for events.len() entries.
        let n = unsafe {
            libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, timeout_ms)
        };
        if n < 0 {
            0
        } else {
            n as usize
        }
    }
}

/// An eventfd the control plane writes to after queueing a command.
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        // SAFETY: plain syscall.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })?;
        Ok(Waker { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64.
        unsafe { libc::write(self.fd.as_raw_fd(), &one as *const u64 as *const libc::c_void, 8) };
    }
    pub fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64.
        unsafe { libc::read(self.fd.as_raw_fd(), &mut v as *mut u64 as *mut libc::c_void, 8) };
    }
}

/// A periodic timerfd (CLOCK_MONOTONIC): the playout clock of transcoded streams
/// (measured here: 0.07 ms late on average, against 1.5 ms for tokio's timers).
pub struct Timer {
    fd: OwnedFd,
}

impl Timer {
    pub fn new() -> io::Result<Timer> {
        // SAFETY: plain syscall.
        let fd = cvt(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) })?;
        Ok(Timer { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
    /// Fires every `period_ns` from now on (0: stops).
    pub fn set_period(&self, period_ns: u64) {
        let ts = libc::timespec { tv_sec: (period_ns / 1_000_000_000) as _, tv_nsec: (period_ns % 1_000_000_000) as _ };
        let spec = libc::itimerspec { it_interval: ts, it_value: ts };
        // SAFETY: valid itimerspec; a null old value is allowed.
        unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
    }
    /// Fires once at `at_ns` on the monotonic clock (0: stops).
    pub fn set_at(&self, at_ns: u64) {
        let ts = libc::timespec { tv_sec: (at_ns / 1_000_000_000) as _, tv_nsec: (at_ns % 1_000_000_000) as _ };
        let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        let spec = libc::itimerspec { it_interval: zero, it_value: ts };
        let flags = if at_ns == 0 { 0 } else { libc::TFD_TIMER_ABSTIME };
        // SAFETY: valid itimerspec; a null old value is allowed.
        unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), flags, &spec, std::ptr::null_mut()) };
    }
    /// Expirations since the last read (0 if none).
    pub fn expirations(&self) -> u64 {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), &mut v as *mut u64 as *mut libc::c_void, 8) };
        if n == 8 {
            v
        } else {
            0
        }
    }
}

fn to_sockaddr(a: &SocketAddr, st: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe { &mut *(st as *mut _ as *mut libc::sockaddr_in) };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            // SAFETY: as above for sockaddr_in6.
            let sin6 = unsafe { &mut *(st as *mut _ as *mut libc::sockaddr_in6) };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

fn from_sockaddr(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match st.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in for AF_INET.
            let sin = unsafe { &*(st as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 for AF_INET6.
            let sin6 = unsafe { &*(st as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), sin6.sin6_flowinfo, sin6.sin6_scope_id)))
        }
        _ => None,
    }
}

/// Receives one datagram without blocking. `Ok(None)` when nothing is queued.
#[inline]
pub fn recv_from(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    let mut st = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: buf and st are valid for the lengths given.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            st.as_mut_ptr() as *mut libc::sockaddr,
            &mut len,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    // SAFETY: zero-initialised, and filled by the kernel.
    let st = unsafe { st.assume_init() };
    match from_sockaddr(&st) {
        Some(a) => Ok(Some((n as usize, a))),
        None => Err(io::Error::new(io::ErrorKind::InvalidData, "unknown address family")),
    }
}

#[inline]
pub fn send_to(fd: RawFd, buf: &[u8], to: &SocketAddr) -> io::Result<usize> {
    let mut st = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    // SAFETY: zeroed storage is a valid sockaddr_storage.
    let st = unsafe { st.assume_init_mut() };
    let len = to_sockaddr(to, st);
    // SAFETY: buf and st are valid for the lengths given.
    let n = unsafe {
        libc::sendto(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_DONTWAIT, st as *const _ as *const libc::sockaddr, len)
    };
    cvt(n as libc::c_int).map(|n| n as usize)
}

/// Datagrams one `recv_mmsg` / `send_mmsg` call moves at most.
pub const MMSG_MAX: usize = 16;

/// Receives up to `got.len()` datagrams (at most [`MMSG_MAX`]) without blocking, the i-th
/// into `buf[i * slot..(i + 1) * slot]`, with one `recvmmsg`. Returns how many arrived;
/// `got[i]` holds each one's length (`slot + 1` when it was truncated) and source.
/// `Ok(0)` when nothing is queued.
pub fn recv_mmsg(fd: RawFd, buf: &mut [u8], slot: usize, got: &mut [(usize, Option<SocketAddr>)]) -> io::Result<usize> {
    let n = got.len().min(MMSG_MAX).min(buf.len() / slot.max(1));
    if n == 0 {
        return Ok(0);
    }
    let mut addrs = [MaybeUninit::<libc::sockaddr_storage>::zeroed(); MMSG_MAX];
    // SAFETY: all-zero iovec and mmsghdr are valid values (null pointers, zero lengths).
    let mut iov: [libc::iovec; MMSG_MAX] = unsafe { std::mem::zeroed() };
    let mut msgs: [libc::mmsghdr; MMSG_MAX] = unsafe { std::mem::zeroed() };
    let base = buf.as_mut_ptr();
    for i in 0..n {
        // SAFETY: i * slot + slot <= buf.len(), so the slot lies inside buf.
        iov[i] = libc::iovec { iov_base: unsafe { base.add(i * slot) } as *mut libc::c_void, iov_len: slot };
        let h = &mut msgs[i].msg_hdr;
        h.msg_name = addrs[i].as_mut_ptr() as *mut libc::c_void;
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &mut iov[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: msgs[..n] point at live iovecs, slots of buf and address storage above.
    let r = unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
    if r < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
    }
    let r = r as usize;
    for i in 0..r {
        let truncated = msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        let len = if truncated { slot + 1 } else { msgs[i].msg_len as usize };
        // SAFETY: zero-initialised, and filled by the kernel.
        got[i] = (len, from_sockaddr(unsafe { addrs[i].assume_init_ref() }));
    }
    Ok(r)
}

/// Sends up to [`MMSG_MAX`] of `msgs` (each `data[start..end]` to an address) from one
/// socket with one `sendmmsg`; returns how many went out (0 only with an error for the
/// first, which the caller counts and skips).
pub fn send_mmsg(fd: RawFd, data: &[u8], msgs: &[(usize, usize, SocketAddr)]) -> io::Result<usize> {
    let n = msgs.len().min(MMSG_MAX);
    if n == 0 {
        return Ok(0);
    }
    let mut addrs = [MaybeUninit::<libc::sockaddr_storage>::zeroed(); MMSG_MAX];
    // SAFETY: as in recv_mmsg.
    let mut iov: [libc::iovec; MMSG_MAX] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; MMSG_MAX] = unsafe { std::mem::zeroed() };
    for (i, &(start, end, to)) in msgs[..n].iter().enumerate() {
        let Some(part) = data.get(start..end) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "range outside the batch"));
        };
        iov[i] = libc::iovec { iov_base: part.as_ptr() as *mut libc::c_void, iov_len: part.len() };
        // SAFETY: zeroed storage is a valid sockaddr_storage.
        let st = unsafe { addrs[i].assume_init_mut() };
        let len = to_sockaddr(&to, st);
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = st as *mut _ as *mut libc::c_void;
        h.msg_namelen = len;
        h.msg_iov = &mut iov[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: hdrs[..n] point at live iovecs (into data) and addresses above.
    let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r as usize)
}

/// Binds a non-blocking UDP socket; `tos` (IPv4 TOS / IPv6 traffic class) and receive
/// buffer size are set when non-zero.
pub fn bind_udp(addr: SocketAddr, tos: u8, rcvbuf: usize) -> io::Result<OwnedFd> {
    bind_udp_with(addr, tos, rcvbuf, false)
}

/// As [`bind_udp`], with SO_REUSEPORT when `reuseport` (one listener per worker on the
/// same port; the kernel keeps each 5-tuple on one of them).
pub fn bind_udp_with(addr: SocketAddr, tos: u8, rcvbuf: usize, reuseport: bool) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain syscall; the fd is owned from here on.
    let fd = cvt(unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if addr.is_ipv6() {
        setsockopt_int(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
        if tos != 0 {
            setsockopt_int(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_TCLASS, tos as i32)?;
        }
    } else if tos != 0 {
        setsockopt_int(fd.as_raw_fd(), libc::IPPROTO_IP, libc::IP_TOS, tos as i32)?;
    }
    if rcvbuf != 0 {
        setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, rcvbuf as i32)?;
    }
    if reuseport {
        setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    let mut st = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    // SAFETY: zeroed storage is valid.
    let st = unsafe { st.assume_init_mut() };
    let len = to_sockaddr(&addr, st);
    // SAFETY: st holds a sockaddr of length len.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), st as *const _ as *const libc::sockaddr, len) })?;
    Ok(fd)
}

fn setsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int, v: i32) -> io::Result<()> {
    // SAFETY: passes a valid int of the size given.
    cvt(unsafe {
        libc::setsockopt(fd, level, name, &v as *const i32 as *const libc::c_void, size_of::<i32>() as libc::socklen_t)
    })?;
    Ok(())
}

/// Raises RLIMIT_NOFILE to its hard limit (each relayed call holds 2-4 sockets).
pub fn raise_fd_limit() -> u64 {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
    rl.rlim_cur
}

/// Monotonic clock in ns (vDSO, no syscall).
#[inline]
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn ip_family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

/// A non-blocking TCP listener with SO_REUSEADDR and SO_REUSEPORT (one per worker).
pub fn tcp_listen(addr: SocketAddr) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain syscall; the fd is owned from here on.
    let fd = cvt(unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if addr.is_ipv6() {
        setsockopt_int(fd.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    setsockopt_int(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    let mut st = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    // SAFETY: zeroed storage is valid.
    let st = unsafe { st.assume_init_mut() };
    let len = to_sockaddr(&addr, st);
    // SAFETY: st holds a sockaddr of length len.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), st as *const _ as *const libc::sockaddr, len) })?;
    // SAFETY: plain syscall on our socket.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), 1024) })?;
    Ok(fd)
}

/// Accepts one connection (non-blocking, TCP_NODELAY); `Ok(None)` when none is queued.
pub fn tcp_accept(fd: RawFd) -> io::Result<Option<(OwnedFd, SocketAddr)>> {
    let mut st = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: st is valid for len bytes.
    let c = unsafe { libc::accept4(fd, st.as_mut_ptr() as *mut libc::sockaddr, &mut len, libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) };
    if c < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    // SAFETY: accept4 returned a new fd that we own.
    let c = unsafe { OwnedFd::from_raw_fd(c) };
    let _ = setsockopt_int(c.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    // SAFETY: the kernel wrote an address of the socket's family.
    let st = unsafe { st.assume_init() };
    let addr = from_sockaddr(&st).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown address family"))?;
    Ok(Some((c, addr)))
}

/// Reads without blocking: `Ok(Some(0))` at end of stream, `Ok(None)` when nothing is there.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: buf is valid for its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    Ok(Some(n as usize))
}

/// Writes without blocking (no SIGPIPE); `Ok(0)` when the socket buffer is full.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for its length.
    let n = unsafe { libc::send(fd, buf.as_ptr() as *const libc::c_void, buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(0) } else { Err(e) };
    }
    Ok(n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_mmsg_and_send_mmsg_batch_flag_truncation_and_keep_order() {
        let a = bind_udp("127.0.0.1:0".parse().unwrap(), 0, 0).unwrap();
        let b = bind_udp("127.0.0.1:0".parse().unwrap(), 0, 0).unwrap();
        let addr = |fd: &OwnedFd| {
            // SAFETY: the fd is a bound socket; std only borrows it here.
            let s = std::mem::ManuallyDrop::new(unsafe { std::net::UdpSocket::from_raw_fd(fd.as_raw_fd()) });
            s.local_addr().unwrap()
        };
        let (aa, ba) = (addr(&a), addr(&b));
        // 20 datagrams from a to b, the 3rd larger than a slot
        let sizes: Vec<usize> = (0..20).map(|i| if i == 2 { 300 } else { 10 + i }).collect();
        let data: Vec<u8> = sizes.iter().enumerate().flat_map(|(i, &n)| vec![i as u8; n]).collect();
        let mut msgs = vec![];
        let mut at = 0;
        for &n in &sizes {
            msgs.push((at, at + n, ba));
            at += n;
        }
        let mut sent = 0;
        while sent < msgs.len() {
            let k = send_mmsg(a.as_raw_fd(), &data, &msgs[sent..]).unwrap();
            assert!(k > 0 && k <= MMSG_MAX);
            sent += k;
        }
        let mut buf = vec![0u8; 256 * MMSG_MAX];
        let mut got = [(0usize, None); MMSG_MAX];
        let mut seen = vec![];
        for _ in 0..10 {
            let k = recv_mmsg(b.as_raw_fd(), &mut buf, 256, &mut got).unwrap();
            for (j, &(n, from)) in got[..k].iter().enumerate() {
                assert_eq!(from, Some(aa));
                let first = buf[j * 256];
                seen.push((first, n));
            }
            if seen.len() == 20 {
                break;
            }
        }
        let want: Vec<(u8, usize)> = sizes.iter().enumerate().map(|(i, &n)| (i as u8, if n > 256 { 257 } else { n })).collect();
        assert_eq!(seen, want, "in order, the long one flagged as truncated (slot + 1)");
        assert_eq!(recv_mmsg(b.as_raw_fd(), &mut buf, 256, &mut got).unwrap(), 0, "nothing queued");
        assert!(send_mmsg(a.as_raw_fd(), &data, &[(0, data.len() + 1, ba)]).is_err(), "a range outside the data");
    }
}
