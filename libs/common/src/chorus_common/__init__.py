"""Shared plumbing of the Chorus services: event contract, bus, outbox/inbox, auth, observability."""
