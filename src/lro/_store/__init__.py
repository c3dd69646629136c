"""Where operations are kept: one narrow protocol and its backends."""
