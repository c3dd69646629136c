"""lro for asyncio."""
