//! The `eagw` binary: `run`, `check-config`, `load`.

use eagw::config::Config;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
eagw: media plane of an IMS access gateway for WebRTC, driven over rtpengine's ng protocol

usage:
  eagw run [--config FILE]      run the appliance (no FILE: the embedded loopback default)
  eagw check-config FILE        validate a configuration file and exit
  eagw print-default-config     print the embedded default configuration
  eagw load <mode> [options]    load tool (eagw load --help)
  eagw --version
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("check-config") => match args.get(1) {
            Some(f) => match Config::load(f) {
                Ok(c) => {
                    println!("{f}: ok ({} workers, {} interfaces)", c.worker_count(), c.interfaces.len());
                    0
                }
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            },
            None => {
                eprintln!("usage: eagw check-config FILE");
                2
            }
        },
        Some("print-default-config") => {
            print!("{}", eagw::config::DEFAULT_TOML);
            0
        }
        Some("load") => eagw::load::main(args[1..].to_vec()),
        Some("--version" | "-V") => {
            println!("eagw {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            0
        }
        _ => {
            eprint!("{USAGE}");
            2
        }
    };
    std::process::exit(code);
}

fn run(args: &[String]) -> i32 {
    let mut config = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" | "-c" => match it.next() {
                Some(f) => config = Some(f.clone()),
                None => {
                    eprintln!("--config needs a file");
                    return 2;
                }
            },
            other => {
                eprintln!("unknown option {other:?}\n{USAGE}");
                return 2;
            }
        }
    }
    let cfg = match &config {
        Some(f) => Config::load(f),
        None => Config::from_toml(eagw::config::DEFAULT_TOML, "<embedded default>"),
    };
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| {
            // the webrtc-rs crates log routine peer behaviour (unknown TLS extensions, ...)
            // at warn: only their errors reach an operator's log unless asked for
            tracing_subscriber::EnvFilter::new(format!("{},rtc_dtls=error,rtc_stun=error,rtc_srtp=error", cfg.general.log))
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let fds = eagw::worker::sys::raise_fd_limit();
    let sessions = Arc::new(AtomicUsize::new(0));
    let (handles, threads) = match eagw::worker::spawn(&cfg, sessions) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("cannot start workers: {e}");
            return 1;
        }
    };
    let control = match eagw::control::start(&cfg, eagw::control::ng::Dispatcher::new(handles)) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}");
            return 1;
        }
    };
    tracing::info!(
        workers = threads.len(),
        ports = format!("{}-{}", cfg.media.port_min.get_ref(), cfg.media.port_max.get_ref()),
        fd_limit = fds,
        config = config.as_deref().unwrap_or("<embedded default>"),
        "eagw {} running",
        env!("CARGO_PKG_VERSION")
    );
    let _ = control.join();
    for t in threads {
        let _ = t.join();
    }
    tracing::info!("eagw stopped");
    0
}
