"""The known data-channel error conditions, one rule per module, each with a Markdown page."""
