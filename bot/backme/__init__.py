"""Backme (挖貝) → CRM on the wire and in storage: the webhook route, the sync transaction,
receipt numbers, the email outbox and sender, and reverse sync."""
