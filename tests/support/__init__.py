"""Test infrastructure shared across test folders: real servers the tests talk to over loopback."""
