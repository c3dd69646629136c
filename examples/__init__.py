"""Runnable examples of lro in asyncio services; tests/examples runs them."""
