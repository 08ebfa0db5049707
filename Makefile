# Entry points of the vrouter appliance. `make test` is what CI runs (.ci/run).
CARGO ?= cargo

.PHONY: deps build test demo bench lint

# System packages: DPDK, libclang for bindgen, and the clients of the end-to-end tests.
deps:
	./scripts/install-deps.sh

build:
	$(CARGO) build --release --workspace

# Each DPDK test file holds one test (EAL initialises once per process), so the test
# binaries need no --test-threads=1.
test: deps
	$(CARGO) test --workspace --release

demo: deps build
	./scripts/demo.sh

bench: deps
	./benches/run.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
