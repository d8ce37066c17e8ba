"""The customer-service agent: grounded answers, typed handoff decisions, a takeover state machine
that never talks over staff, and a commitment guard on every outgoing reply.

Pure cores (no I/O, no clock): `normalize`, `intent`, `handoff`, `state`, `guard`, `brief`.
"""
