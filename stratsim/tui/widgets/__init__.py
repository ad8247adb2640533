"""Widgets of the stratsim TUI, one concept per module."""
