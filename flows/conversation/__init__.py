"""The invoice-card conversation: states, the pure state machine, card triggers, campaign
availability and the reply/push delivery planner."""
