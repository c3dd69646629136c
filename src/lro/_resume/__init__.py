"""Who wakes a waiting operation: the embedded worker, Cloud Workflows, Cloud Tasks."""
