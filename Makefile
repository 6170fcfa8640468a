# The project's commands. `make test` is what CI runs (.ci/run calls it).
.PHONY: dev token invoke test bench browser

dev:    ## the whole product locally (JWT mode): API + kit on http://127.0.0.1:9001, fake Persona, hot reload
	./scripts/dev.sh

token:  ## a token of make dev's local issuer: make token SUB=alice
	@cargo run --quiet -p integration-tests --bin dev-gateway -- token "$(or $(SUB),alice)"

invoke: ## a sample event straight to a function of make dev: make invoke EVENT=events/issue-link/http-api.pending.json
	@./scripts/invoke.sh "$(EVENT)"

browser: ## the front-end kit in headless Chromium, and every sample event through make invoke (ci/browser.sh)
	bash ci/browser.sh

test:   ## everything CI checks: formatting, clippy, unit, scenario, end-to-end, template and API contract tests
	./scripts/test.sh

bench:  ## cold start, latency, memory and size against two floors (bench/results.md)
	cargo run --profile rig -p integration-tests --bin bench
