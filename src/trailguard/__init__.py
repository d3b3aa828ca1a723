"""trailguard: keeps AWS CloudTrail from being switched off."""

__version__ = "0.1.0"
