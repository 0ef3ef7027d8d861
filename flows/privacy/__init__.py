"""Personal-data rules (Taiwan PDPA): retention after a campaign ends, pseudonyms, safe cells."""
