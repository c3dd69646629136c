"""Durable waits: scheduling wake-ups, and the workers that resume operations."""
