"""Review of uploads (issue 30): photo hashes, fraud signals in words, review states and decisions."""
