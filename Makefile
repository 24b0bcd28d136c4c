# `make test` is the one command that runs every test; .ci/run calls it.
# It needs cargo, python3 and Node.js with npm: Python packages go into ./.venv, created here;
# Node packages into tests/node/node_modules, from its package-lock.json.

VENV := .venv
PYTHON := $(VENV)/bin/python

.PHONY: test lint rust-test python-test node-test bench clean-venv

test: lint rust-test python-test node-test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

rust-test:
	cargo test --workspace --locked

python-test: $(VENV)/.installed
	cargo build -p gripway --locked
	$(PYTHON) -m pytest -q tests/python

# The published Node.js GRIP libraries against gripway (python-test built the binary).
node-test:
	cd tests/node && npm ci --no-audit --no-fund && node --test

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

# Criterion benchmarks of the protocol codecs (not part of `make test`: timings are never asserted).
bench:
	cargo bench -p gripway-protocol

clean-venv:
	rm -rf $(VENV)
