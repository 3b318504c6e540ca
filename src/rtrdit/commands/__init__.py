"""Subcommand modules of the `rtrdit` command line (one per subcommand)."""
