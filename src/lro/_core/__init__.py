"""The rules of an operation's life, without I/O."""
