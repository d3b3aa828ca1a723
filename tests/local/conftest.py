"""The local-cloud fixtures, defined in :mod:`localcloud_support`."""

from localcloud_support import cloud, trail, user_keys

__all__ = ["cloud", "trail", "user_keys"]
