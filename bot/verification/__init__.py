"""The durable verification pipeline: MOF verification jobs stored in the database, the worker
that claims them under leases, and its metrics. The policy (retry schedule, 72-hour expiry,
leases) is flows.verification.policy; this package applies it to tables and HTTP."""
