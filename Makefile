# `make test` is the one command that runs every test; .ci/run calls it.
# It needs only cargo and python3: Python packages go into ./.venv, created here.

VENV := .venv
PYTHON := $(VENV)/bin/python

.PHONY: test lint rust-test python-test bench clean-venv

test: lint rust-test python-test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

rust-test:
	cargo test --workspace --locked

python-test: $(VENV)/.installed
	cargo build -p gripway --locked
	$(PYTHON) -m pytest -q tests/python

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

# Criterion benchmarks of the protocol codecs (not part of `make test`: timings are never asserted).
bench:
	cargo bench -p gripway-protocol

clean-venv:
	rm -rf $(VENV)
