"""lastmile: last-mile delivery operations, from orders to proof of delivery."""

__version__ = "0.1.0"
