"""Review of uploads (issue 30): photo hashes, signals at settle, the hold, the review service and appeals."""
