"""Backme (挖貝) → CRM: the order webhook body, its signature, and the pure rules that turn an
order into plain-data plans (contribution, recurring order, contacts) for a persistence layer."""
