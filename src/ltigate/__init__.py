"""ltigate: a self-hosted LTI 1.3 / LTI Advantage gateway."""

__version__ = "0.1.0"
