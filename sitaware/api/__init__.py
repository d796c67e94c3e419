"""The command-center API: `sitaware api` serves situations, units, subscriptions and the
map page over HTTP, separately from the pipeline's workers."""

from sitaware.api.command import register

__all__ = ["register"]
