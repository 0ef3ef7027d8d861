"""Conversation state store (state + data per channel and user, with TTL) and per-user locks."""
