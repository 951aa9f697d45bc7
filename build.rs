//! Links the AMR-WB codec libraries Debian packages (libopencore-amrwb-dev for decoding,
//! libvo-amrwbenc-dev for encoding; `scripts/deps.sh` installs them) through pkg-config.
//! Opus is found by audiopus_sys the same way (libopus-dev).
fn main() {
    for lib in ["opencore-amrwb", "vo-amrwbenc"] {
        if let Err(e) = pkg_config::Config::new().probe(lib) {
            panic!(
                "pkg-config cannot find {lib} ({e}); install libopencore-amrwb-dev and \
                 libvo-amrwbenc-dev (scripts/deps.sh run does)"
            );
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
