"""Test support: real servers for integration tests, isolated per run (DESIGN.md §8)."""
