"""The facility model, room classes, the wire contract, the clock and the simulator.

This is the leaf package: it imports no other package of Lantai's.
"""
