"""INDI drivers for the astrojolo AstroLink 4 USB and Celestron NexStar mounts on the AUX bus."""

__version__ = "0.1.0"
