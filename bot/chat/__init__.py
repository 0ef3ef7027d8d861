"""The LINE conversation at work: webhook events → state machine → uploads → answers."""
