"""Output for people, scripts and monitors. Only this package imports rich."""
