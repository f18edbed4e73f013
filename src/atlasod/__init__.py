"""ATLAS Open Data 13 TeV (2020) analyses as reproducible workflows."""

__version__ = "0.1.0"
