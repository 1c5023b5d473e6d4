"""The `ltigate` command line: serve, migrate, and administer platforms, resources, keys and launches."""
