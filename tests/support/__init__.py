"""What the unit, e2e and bench suites share: ports, waiting, HTTP, the project copy, a DAP client."""
