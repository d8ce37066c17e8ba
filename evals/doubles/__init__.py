"""Test doubles shared by the tests and the evals: the scripted chat model, the stub
OpenAI-compatible server, and a uvicorn server on a free local port.

They sit here, not in the production packages, because evals use them for real work (the cs
eval attacks through a compromised model, the cs-load bench runs a failing stub LLM) while the
service must never ship or load them: an import-linter contract (`make layers`) forbids every
production package from importing `evals.doubles`.
"""
