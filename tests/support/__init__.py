"""Test infrastructure: real servers (Knot DNS, a delaying/black-holing DNS relay) started on loopback."""
