"""Contract suites: the same tests against every implementation of a port."""
