"""CLI subcommands that live beside the modules they drive; each exposes register(subparsers, common)."""
