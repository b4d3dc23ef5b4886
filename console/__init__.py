"""The security desk's console: a JSON API, a live alarm stream and one HTML page."""
