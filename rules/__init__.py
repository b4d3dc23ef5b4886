"""The rules engine. Imports ``sensors`` only; emits alarm events through a Protocol."""
