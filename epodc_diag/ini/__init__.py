"""server.ini: a tolerant Windows INI reader and what it says about the application server."""
