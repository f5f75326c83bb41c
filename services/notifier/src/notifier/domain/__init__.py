"""What to send to whom, and when to try again: no I/O."""
