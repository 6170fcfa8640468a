# The project's commands. `make test` is what CI runs (.ci/run calls it).
.PHONY: dev test bench

dev:    ## both functions on http://127.0.0.1:9001 in front of a fake Persona with demo data
	./scripts/dev.sh

test:   ## everything CI checks: formatting, clippy, unit, scenario, end-to-end, template and API contract tests
	./scripts/test.sh

bench:  ## cold start, latency, memory and size against two floors (bench/results.md)
	cargo run --profile rig -p bench --bin bench
