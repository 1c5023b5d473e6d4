"""Use cases: they orchestrate the protocol core with ports; no framework, ORM or HTTP client here."""
