"""Console accounts: argon2 passwords, database-kept sessions, one-time sign-in links and the
sign-in itself (rate-limited, audited). The CLI and the console both use these."""
