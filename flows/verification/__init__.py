"""Verification policy: MOF retry schedule and 72-hour deadline, quiet hours, LINE outbox
retries and job leases, as pure functions of aware datetimes."""
