"""The LINE side of the service: webhook, Messaging API adapter, outbox, flex cards, templates."""
