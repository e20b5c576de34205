"""Use-cases and the ports they own. Depends only on domain."""
