"""Support bundles: one zip with the evidence, redacted on request, that support can replay."""
