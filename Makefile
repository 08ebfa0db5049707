# Entry points of the vrouter appliance. `make test` is what CI runs (.ci/run).
CARGO ?= cargo

.PHONY: deps build test demo bench bench-neutron lint fuzz soak deb

# System packages: DPDK, libclang for bindgen, and the clients of the end-to-end tests.
deps:
	./scripts/install-deps.sh

build:
	$(CARGO) build --release --workspace

# The linters first (formatting, clippy with warnings as errors), then every test. Each DPDK
# test file holds one test (EAL initialises once per process), so the test binaries need no
# --test-threads=1.
test: deps lint
	$(CARGO) test --workspace --release

# The Debian package (target/debian/vrouter_*.deb): both binaries, the systemd unit and
# tmpfiles, /etc/vrouter/vrouter.toml (a conffile), man pages and bash/zsh completions.
deb: deps
	$(CARGO) build --release --bins
	rm -rf target/docs
	VROUTER_WRITE_DOCS=target/docs target/release/vrouter
	VROUTER_WRITE_DOCS=target/docs target/release/vrouterctl
	gzip -9n target/docs/*.8
	@command -v cargo-deb >/dev/null || $(CARGO) install --locked cargo-deb
	$(CARGO) deb --no-build --no-strip -p vrouter-appliance -o target/debian/

# The bounded soak (tests/soak.rs): mixed traffic through the appliance for SOAK_SECS
# seconds, RSS and mbufs in use checked flat against the ceiling the test states.
SOAK_SECS ?= 80
soak: deps
	SOAK_SECS=$(SOAK_SECS) $(CARGO) test --release --test soak -- --ignored --nocapture

demo: deps build
	./scripts/demo.sh

# BENCH_RUNS selects runs (PATH:FLOWS[:SIZE[:WORKERS]] ...); empty runs the whole matrix (~18 min).
BENCH_RUNS ?=
bench: deps
	./benches/run.sh $(BENCH_RUNS)

# The agent's scale benchmark against a real neutron-server (ROUTERS, NETWORKS, PORTS; by
# default 100, 200, 2000): 35-50 min on 2 vCPUs.
bench-neutron: deps
	$(CARGO) build --release --bins
	./benches/neutron_scale.py

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Fuzzing (cargo-fuzz, needs the nightly toolchain): each target runs FUZZ_SECS seconds,
# starting from its seeds and from what earlier runs found (fuzz/corpus/<target>/). A crash
# stops the run; its input is in fuzz/artifacts/<target>/ (see README.md, "Fuzzing").
# No sanitizer by default: the code under test is safe Rust; overflow checks stay on.
FUZZ_SECS ?= 30
FUZZ_SANITIZER ?= none
FUZZ_TARGETS ?= wire_ethernet wire_vlan wire_arp wire_ipv4 wire_gre wire_icmp wire_udp \
	wire_dhcp pipeline control_request config_load
fuzz:
	@rustup run nightly rustc --version >/dev/null || { echo "make fuzz: needs the nightly toolchain (rustup toolchain install nightly)"; exit 1; }
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz
	cd fuzz && $(CARGO) run -q --no-default-features --example write_seeds -- corpus
	@mkdir -p fuzz/artifacts
	@for t in $(FUZZ_TARGETS); do \
		log=fuzz/artifacts/$$t.log; \
		if cargo +nightly fuzz run -s $(FUZZ_SANITIZER) $$t fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_SECS) -print_final_stats=1 >$$log 2>&1; then \
			echo "fuzz $$t: $$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' $$log)"; \
		else \
			tail -n 60 $$log; echo "fuzz $$t: FAILED (input in fuzz/artifacts/$$t/, log in $$log)"; exit 1; \
		fi; \
	done
