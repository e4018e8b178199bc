"""Time for `epodc check`: the run history (store), what changed since the last run (changes),
and findings the administrator knows about and has accepted for a while (suppress)."""
