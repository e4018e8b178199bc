"""The reference data-channel engine: a model of the DC work queue that writes simulated sites."""
