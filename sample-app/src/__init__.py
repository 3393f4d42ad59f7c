"""The Day-11 sample app: a small Flask service that learners containerize."""

__version__ = "1.0.0"
