"""The subcommands of ``orders-service``."""
