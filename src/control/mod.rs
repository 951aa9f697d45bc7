//! The control plane: the ng protocol (bencode or JSON) over UDP, TCP-ng and HTTP, flag
//! parsing, the cookie reply cache, and routing of commands to the worker owning a call.
//! It never touches call state: it decodes, routes over crossbeam channels, and encodes.

pub mod bencode;
pub mod flags;
pub mod ng;
pub mod rtpp_flags;
pub mod server;

use crate::config::Config;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Binds every configured listener (so errors surface before workers start serving),
/// then runs them on a single-threaded tokio runtime in a thread of its own.
pub fn start(cfg: &Config, dispatcher: ng::Dispatcher) -> std::io::Result<std::thread::JoinHandle<()>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let d = Arc::new(dispatcher);
    let cache = Arc::new(Mutex::new(server::CookieCache::new(Duration::from_secs(cfg.control.cookie_cache_secs.max(1)))));
    let mut udp = vec![];
    let mut tcp = vec![];
    let mut http = vec![];
    rt.block_on(async {
        for a in Config::addrs(&cfg.control.ng_udp) {
            udp.push(tokio::net::UdpSocket::bind(a).await.map_err(|e| annotate(e, "ng udp", a))?);
            tracing::info!("ng listening on udp {a}");
        }
        for a in Config::addrs(&cfg.control.ng_tcp) {
            tcp.push(tokio::net::TcpListener::bind(a).await.map_err(|e| annotate(e, "ng tcp", a))?);
            tracing::info!("ng listening on tcp {a}");
        }
        for a in Config::addrs(&cfg.control.http) {
            http.push(tokio::net::TcpListener::bind(a).await.map_err(|e| annotate(e, "http", a))?);
            tracing::info!("http control listening on {a}");
        }
        Ok::<(), std::io::Error>(())
    })?;
    std::thread::Builder::new().name("eagw-control".into()).spawn(move || {
        rt.block_on(async move {
            let mut tasks = vec![];
            for s in udp {
                tasks.push(tokio::spawn(server::serve_udp(s, d.clone(), cache.clone())));
            }
            for l in tcp {
                tasks.push(tokio::spawn(server::serve_tcp(l, d.clone(), cache.clone())));
            }
            for l in http {
                tasks.push(tokio::spawn(server::serve_http(l, d.clone(), cache.clone())));
            }
            // SIGTERM / SIGINT: workers close their calls and sockets, then eagw exits
            use tokio::signal::unix::{signal, SignalKind};
            match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(mut term), Ok(mut int)) => {
                    let which = tokio::select! {
                        _ = term.recv() => "SIGTERM",
                        _ = int.recv() => "SIGINT",
                    };
                    tracing::info!("{which}: shutting down");
                    let calls = d.shutdown().await;
                    tracing::info!(calls, "workers stopped");
                }
                _ => {
                    for t in tasks.drain(..) {
                        let _ = t.await;
                    }
                }
            }
            for t in tasks {
                t.abort();
            }
        })
    })
}

fn annotate(e: std::io::Error, what: &str, a: std::net::SocketAddr) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot bind {what} {a}: {e}"))
}
