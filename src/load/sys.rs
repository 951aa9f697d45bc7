//! Thin libc helpers for the load tool: clocks, CPU accounting, sockets and epoll.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

const NS: u64 = 1_000_000_000;

/// The clock carried in the media payload, the epoll wrapper and the fd limit are the
/// worker's own (one syscall layer for the project).
pub use crate::worker::sys::{mono_ns, raise_fd_limit as raise_nofile, Epoll};

/// Sleeps until the absolute CLOCK_MONOTONIC time `t` (ns).
pub fn sleep_until_ns(t: u64) {
    let ts = libc::timespec {
        tv_sec: (t / NS) as libc::time_t,
        tv_nsec: (t % NS) as libc::c_long,
    };
    loop {
        // SAFETY: valid timespec; remaining-time pointer may be null with TIMER_ABSTIME.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if r != libc::EINTR {
            break;
        }
    }
}

fn rusage_s(who: libc::c_int) -> f64 {
    // SAFETY: rusage is plain old data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU seconds (user + system) used so far by the calling thread.
pub fn thread_cpu_s() -> f64 {
    rusage_s(libc::RUSAGE_THREAD)
}

/// CPU seconds (user + system) used so far by this whole process.
pub fn process_cpu_s() -> f64 {
    rusage_s(libc::RUSAGE_SELF)
}

/// Clock ticks per second for /proc/*/stat times.
pub fn clk_tck() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Resident set size of a process in bytes (`VmRSS` of /proc/PID/status).
pub fn proc_rss_bytes(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc status"))
}

/// utime + stime of process `pid` (all its threads) in seconds, from /proc/PID/stat.
pub fn proc_cpu_s(pid: u32) -> io::Result<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': index 0 is field 3 (state), so utime (14) is index 11 and stime (15) index 12.
    let get = |i: usize| -> io::Result<f64> {
        fields
            .get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .map(|v| v as f64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc stat"))
    };
    Ok((get(11)? + get(12)?) / clk_tck())
}

/// Seconds summed over the threads of process `pid` whose name starts with `prefix` ("" for
/// all) of value `field` of their /proc/PID/task/TID/schedstat (0: time on a CPU, 1: time
/// runnable but waiting for one); None when no thread's schedstat could be read.
fn schedstat_sum_s(pid: u32, field: usize, prefix: &str) -> Option<f64> {
    let mut total_ns: u64 = 0;
    let mut any = false;
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        if !prefix.is_empty() && !std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path().join("schedstat")) else { continue };
        if let Some(ns) = text.split_whitespace().nth(field).and_then(|v| v.parse::<u64>().ok()) {
            total_ns += ns;
            any = true;
        }
    }
    any.then_some(total_ns as f64 / 1e9)
}

/// CPU seconds of process `pid` with nanosecond resolution: the sum of its threads' run
/// time from /proc/PID/task/*/schedstat (time of threads that already exited is not in it,
/// so this is for phases during which the process keeps its threads). Falls back to
/// [`proc_cpu_s`] (clock ticks, usually 10 ms) where schedstat is missing; the second value
/// says which source was read.
pub fn proc_cpu_fine_s(pid: u32) -> io::Result<(f64, &'static str)> {
    match schedstat_sum_s(pid, 0, "") {
        Some(s) => Ok((s, "schedstat")),
        None => proc_cpu_s(pid).map(|s| (s, "stat")),
    }
}

/// Seconds that the threads of process `pid` named `prefix…` have spent runnable but not
/// running (pre-empted or waiting for a CPU).
pub fn proc_runqueue_wait_s(pid: u32, prefix: &str) -> Option<f64> {
    schedstat_sum_s(pid, 1, prefix)
}

/// The machine's steal time (a virtual machine's CPUs running something else of the host's),
/// in seconds summed over its CPUs: the 8th value of /proc/stat's `cpu` line.
pub fn host_steal_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let steal: u64 = line.split_whitespace().nth(8)?.parse().ok()?;
    Some(steal as f64 / clk_tck())
}

/// A socket address in the form sendto() takes, built once per destination.
#[derive(Clone, Copy)]
pub struct RawAddr {
    pub storage: libc::sockaddr_storage,
    pub len: libc::socklen_t,
}

impl RawAddr {
    pub fn new(a: &SocketAddr) -> RawAddr {
        // SAFETY: sockaddr_storage is plain old data and large enough for both families.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match a {
            SocketAddr::V4(v4) => {
                let sin = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in) };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = v4.port().to_be();
                sin.sin_addr = libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let sin6 = unsafe { &mut *(&mut storage as *mut _ as *mut libc::sockaddr_in6) };
                sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sin6.sin6_port = v6.port().to_be();
                sin6.sin6_flowinfo = v6.flowinfo();
                sin6.sin6_addr = libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                };
                sin6.sin6_scope_id = v6.scope_id();
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        RawAddr {
            storage,
            len: len as libc::socklen_t,
        }
    }

    pub fn ptr(&self) -> *const libc::sockaddr {
        &self.storage as *const _ as *const libc::sockaddr
    }
}

/// One sendto() of `buf` to `dst`; returns false on error.
#[inline]
pub fn send_to(fd: RawFd, buf: &[u8], dst: &RawAddr) -> bool {
    // SAFETY: buffer and address are valid for the given lengths.
    let r = unsafe {
        libc::sendto(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            0,
            dst.ptr(),
            dst.len,
        )
    };
    r >= 0
}

/// One non-blocking recv(); returns the datagram length, or None (EAGAIN or error).
#[inline]
pub fn recv(fd: RawFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: buffer is valid for its length.
    let r = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if r >= 0 {
        Some(r as usize)
    } else {
        None
    }
}

/// Raises SO_RCVBUF to `bytes` (SO_RCVBUFFORCE when allowed and rmem_max is lower);
/// returns the size the kernel reports afterwards.
pub fn set_rcvbuf(fd: RawFd, bytes: usize) -> usize {
    let v = bytes.min(i32::MAX as usize) as libc::c_int;
    let sz = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let set = |opt: libc::c_int| {
        // SAFETY: the option value is a valid c_int of the size given.
        unsafe { libc::setsockopt(fd, libc::SOL_SOCKET, opt, &v as *const _ as *const libc::c_void, sz) };
    };
    let get = || {
        let (mut got, mut len): (libc::c_int, libc::socklen_t) = (0, sz);
        // SAFETY: `got` is a valid c_int and `len` its size.
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &mut got as *mut _ as *mut libc::c_void, &mut len) };
        got
    };
    set(libc::SO_RCVBUF);
    let mut got = get();
    // The kernel reports double the requested size (bookkeeping overhead); past
    // net.core.rmem_max only root's SO_RCVBUFFORCE raises it.
    if (got as usize) < bytes {
        set(libc::SO_RCVBUFFORCE);
        got = get();
    }
    got.max(0) as usize
}

/// A non-blocking UDP socket bound to `ip` on an ephemeral port, with a raised receive buffer.
pub fn bind_udp(ip: IpAddr, rcvbuf: usize) -> io::Result<(UdpSocket, SocketAddr)> {
    let s = UdpSocket::bind(SocketAddr::new(ip, 0))?;
    s.set_nonblocking(true)?;
    set_rcvbuf(s.as_raw_fd(), rcvbuf);
    let local = s.local_addr()?;
    Ok((s, local))
}

pub fn empty_events(n: usize) -> Vec<libc::epoll_event> {
    vec![libc::epoll_event { events: 0, u64: 0 }; n]
}

/// A small xorshift generator for SSRCs, initial sequence numbers and run tags.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Rng {
        let seed = mono_ns() ^ ((std::process::id() as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 16) as u32
    }
}
