"""Challenge → complete state machines over the store and the pure verifiers."""
