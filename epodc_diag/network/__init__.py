"""DNS and port 8444: the KB's network checks, on the real network or a simulated site's."""
