"""Screens and modal dialogs of the stratsim TUI."""
