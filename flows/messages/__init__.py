"""The message catalogue: fixed system messages (exact seed texts), custom message kinds
with their template variables and default templates, and messages as plain data."""
