"""MQTT in: decode and validate, presence, and the durable write of readings.

Imports ``sensors`` only. Readings are handed on through a Protocol; collectors never
raise alarms themselves.
"""
