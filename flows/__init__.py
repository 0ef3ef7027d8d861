"""The domain: e-invoice codes, campaign rules and lifecycle, conversation states and
verification policy, as plain data and pure functions (no web, database or LINE imports)."""
