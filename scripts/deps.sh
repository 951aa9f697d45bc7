#!/usr/bin/env bash
# Installs what `make run` / `make test` need on a fresh Debian machine, idempotently:
# a second run with everything present only checks and returns (well under a second).
#
#   scripts/deps.sh run    # the appliance: a Rust toolchain (cargo), pkg-config and the codec
#                          #   libraries it links (libopus-dev, libopencore-amrwb-dev, libvo-amrwbenc-dev)
#   scripts/deps.sh test   # + the real peers the tests drive: Kamailio, sipp, ffmpeg, Chromium,
#                          #   espeak-ng, coturn's turnutils, and a Python venv (target/pyenv) with aiortc and pesq
#   scripts/deps.sh bench  # + rtpengine, to compare side by side with the load tool
set -eu
what=${1:-test}

need_cmds=()
pkgs=()
want() { # want <command> <debian package>
    command -v "$1" >/dev/null 2>&1 || { need_cmds+=("$1"); pkgs+=("$2"); }
}
want_lib() { # want_lib <pkg-config name> <debian -dev package>
    pkg-config --exists "$1" 2>/dev/null || { need_cmds+=("$1.pc"); pkgs+=("$2"); }
}
codec_libs() { # the codecs eagw links (build.rs, audiopus_sys: through pkg-config)
    want pkg-config pkg-config
    want_lib opus libopus-dev
    want_lib opencore-amrwb libopencore-amrwb-dev
    want_lib vo-amrwbenc libvo-amrwbenc-dev
}

command -v cargo >/dev/null 2>&1 || {
    echo "deps: cargo not found; install a Rust toolchain (https://rustup.rs) first" >&2
    exit 1
}
case "$what" in
    run) codec_libs ;;
    test)
        codec_libs
        want kamailio kamailio
        want sipp sip-tester
        want ffmpeg ffmpeg
        want python3 python3
        want chromium chromium
        want espeak-ng espeak-ng
        want turnutils_uclient coturn   # coturn's TURN client and peer drive tests/turn.rs
        python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || { need_cmds+=("python3-venv"); pkgs+=(python3-venv); }
        ;;
    bench)
        codec_libs
        want kamailio kamailio
        want sipp sip-tester
        want ffmpeg ffmpeg
        want rtpengine rtpengine-daemon
        want turnserver coturn          # scripts/turn-compare.sh runs it on loopback
        ;;
    *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac
# Python test peers (aiortc, pesq, ...) live in a venv inside the build folder: Debian's
# pip refuses global installs. Re-installed only when requirements.txt changes.
venv() {
    [ "$what" = test ] || return 0
    local req=tests/interop/webrtc/requirements.txt py=target/pyenv/bin/python stamp=target/pyenv/.requirements
    if [ -x "$py" ] && cmp -s "$req" "$stamp"; then return 0; fi
    echo "deps: Python venv target/pyenv (aiortc, pesq)"
    mkdir -p target
    [ -x "$py" ] || python3 -m venv target/pyenv
    "$py" -m pip install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
}
[ ${#pkgs[@]} -eq 0 ] && { venv; exit 0; }

echo "deps: installing ${pkgs[*]} (missing: ${need_cmds[*]})"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# Never let a package start its daemon (Kamailio, rtpengine would listen on all interfaces).
rc_guard=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    rc_guard=1
fi
trap '[ $rc_guard -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
# a package that still started a service: stop it
for svc in kamailio rtpengine-daemon ngcp-rtpengine-daemon turnserver; do
    pkill -x "${svc%-daemon}" 2>/dev/null || true
done
venv
echo "deps: done"
