# The two set-up commands (see README.md):
#   make run    install what is missing, build, run eagw on the embedded loopback config
#   make test   install what is missing (Kamailio, sipp, ffmpeg, Chromium, espeak-ng, a Python
#               venv with aiortc and pesq), build (with the examples the tests run as
#               peers' tools, e.g. examples/amrwb_codec), run every test
CARGO ?= cargo
CONFIG ?=

.PHONY: run test build bench fuzz load-compare clean

run:
	@scripts/deps.sh run
	$(CARGO) build --release --bin eagw
	./target/release/eagw run $(if $(CONFIG),--config $(CONFIG))

test:
	@scripts/deps.sh test
	$(CARGO) build --release --examples
	$(CARGO) test --release --all-targets

build:
	$(CARGO) build --release

# criterion benches (figures go into README.md's performance table)
bench:
	$(CARGO) bench --bench control --bench relay --bench webrtc --bench codec

# each fuzz target for FUZZ_SECONDS (cargo install cargo-fuzz; needs a nightly-capable rustc)
FUZZ_SECONDS ?= 60
FUZZ_CARGO ?= $(shell rustup toolchain list 2>/dev/null | grep -q nightly && echo "cargo +nightly" || echo "env RUSTC_BOOTSTRAP=1 cargo")
fuzz:
	cd fuzz && for t in $$($(FUZZ_CARGO) fuzz list); do mkdir -p corpus/$$t; \
	  $(FUZZ_CARGO) fuzz run $$t corpus/$$t $$( [ -d seeds/$$t ] && echo seeds/$$t ) -- -max_total_time=$(FUZZ_SECONDS) || exit 1; done

# the load tool against eagw (and rtpengine, if installed), side by side in one run
load-compare: build
	@scripts/deps.sh bench
	scripts/load-compare.sh

clean:
	$(CARGO) clean
