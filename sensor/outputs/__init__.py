"""Alerts: from a match to text and JSON, and (later) the sinks they go to."""
