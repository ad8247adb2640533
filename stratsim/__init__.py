"""stratsim: local Monte-Carlo strategy simulation of a To C / To B resource balance."""

__version__ = "0.1.0"
