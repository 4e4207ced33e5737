# The two commands a newcomer needs; both install what they need first.
.PHONY: dev test

dev: ## run the whole system locally: gateway, server and the demo page
	scripts/dev.sh

test: ## run every test (unit, snapshot, nag, cdk CLI, end-to-end, browser)
	scripts/test.sh
