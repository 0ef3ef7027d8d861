"""Campaigns in storage: the campaign store, settling verified uploads (cap and duplicate rules
exact under concurrency), coupon pools, statistics and streaming exports."""
