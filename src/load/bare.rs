//! The floor: an in-process bare UDP relay. Each thread has its own level-triggered epoll over
//! its share of relay sockets; per packet it does exactly one recvfrom() and one sendto() to the
//! socket's fixed destination, with no parsing and nothing else.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::sys::{self, RawAddr};

pub struct RelayStats {
    /// CPU seconds of the relay threads (getrusage(RUSAGE_THREAD) inside each thread).
    pub cpu_s: f64,
    pub packets: u64,
    pub send_errors: u64,
    pub threads: usize,
}

struct ThreadOut {
    cpu_s: f64,
    packets: u64,
    send_errors: u64,
}

pub struct BareRelay {
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<ThreadOut>>,
    /// Per call: (address the caller sends to, address the callee sends to).
    pub ports: Vec<(SocketAddr, SocketAddr)>,
}

impl BareRelay {
    /// Starts a relay for `calls` = (caller leg address, callee leg address) pairs.
    pub fn start(
        ip: IpAddr,
        calls: &[(SocketAddr, SocketAddr)],
        threads: usize,
        rcvbuf: usize,
    ) -> io::Result<BareRelay> {
        let threads = threads.max(1);
        let mut shares: Vec<Vec<(UdpSocket, SocketAddr)>> =
            (0..threads).map(|_| Vec::new()).collect();
        let mut ports = Vec::with_capacity(calls.len());
        let mut n = 0usize;
        for (caller, callee) in calls {
            // Caller-facing socket forwards to the callee; callee-facing one to the caller.
            let (a, a_addr) = sys::bind_udp(ip, rcvbuf)?;
            let (b, b_addr) = sys::bind_udp(ip, rcvbuf)?;
            shares[n % threads].push((a, *callee));
            n += 1;
            shares[n % threads].push((b, *caller));
            n += 1;
            ports.push((a_addr, b_addr));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::with_capacity(threads);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        for (t, share) in shares.into_iter().enumerate() {
            let stop = stop.clone();
            let ready = ready_tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("bare-relay-{t}"))
                .spawn(move || relay_thread(share, stop, ready))?;
            handles.push(h);
        }
        for _ in 0..threads {
            let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(5));
        }
        Ok(BareRelay {
            stop,
            handles,
            ports,
        })
    }

    /// Stops the threads and sums what they measured.
    pub fn stop(self) -> RelayStats {
        self.stop.store(true, Ordering::Relaxed);
        let threads = self.handles.len();
        let mut st = RelayStats {
            cpu_s: 0.0,
            packets: 0,
            send_errors: 0,
            threads,
        };
        for h in self.handles {
            if let Ok(o) = h.join() {
                st.cpu_s += o.cpu_s;
                st.packets += o.packets;
                st.send_errors += o.send_errors;
            }
        }
        st
    }
}

fn relay_thread(
    share: Vec<(UdpSocket, SocketAddr)>,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<()>,
) -> ThreadOut {
    let cpu0 = sys::thread_cpu_s();
    let mut out = ThreadOut {
        cpu_s: 0.0,
        packets: 0,
        send_errors: 0,
    };
    let ep = match sys::Epoll::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("load bare: epoll_create1: {e}");
            let _ = ready.send(());
            return out;
        }
    };
    let fds: Vec<i32> = share.iter().map(|(s, _)| s.as_raw_fd()).collect();
    let dests: Vec<RawAddr> = share.iter().map(|(_, d)| RawAddr::new(d)).collect();
    for (i, fd) in fds.iter().enumerate() {
        if let Err(e) = ep.add(*fd, i as u64) {
            eprintln!("load bare: epoll_ctl: {e}");
        }
    }
    let _ = ready.send(());
    let mut events = sys::empty_events(64);
    let mut buf = vec![0u8; 2048];
    // SAFETY (below): sockaddr_storage is plain old data.
    let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    while !stop.load(Ordering::Relaxed) {
        let n = ep.wait(&mut events, 50);
        for ev in &events[..n] {
            let i = { ev.u64 } as usize;
            let mut flen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: buffers valid for their lengths.
            let r = unsafe {
                libc::recvfrom(
                    fds[i],
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                    &mut from as *mut _ as *mut libc::sockaddr,
                    &mut flen,
                )
            };
            if r < 0 {
                continue;
            }
            if sys::send_to(fds[i], &buf[..r as usize], &dests[i]) {
                out.packets += 1;
            } else {
                out.send_errors += 1;
            }
        }
    }
    out.cpu_s = sys::thread_cpu_s() - cpu0;
    drop(share);
    out
}
