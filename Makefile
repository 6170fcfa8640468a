# The project's commands. `make test` is what CI runs (.ci/run calls it).
.PHONY: dev test bench fuzz

dev:    ## both functions on http://127.0.0.1:9001 in front of a fake Persona with demo data
	./scripts/dev.sh

test:   ## everything CI checks: formatting, clippy, unit, scenario, end-to-end, template and API contract tests
	./scripts/test.sh
