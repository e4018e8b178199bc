"""epodc: troubleshooting for the data channel of Trellix (McAfee) ePolicy Orchestrator."""

__version__ = "0.1.0"
