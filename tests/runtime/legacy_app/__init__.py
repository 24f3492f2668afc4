"""A small application wired the old way (no topology file): its tasks are found by a scan."""
