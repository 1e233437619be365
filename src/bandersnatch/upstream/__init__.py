"""The only code that talks to the upstream index."""
