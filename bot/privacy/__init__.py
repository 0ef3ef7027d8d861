"""Personal data as Taiwan's PDPA expects: retention purge, forget-me, privacy keys."""
