"""Persistence, and the foundation every other package may import.

`store` is the lowest layer (`api → agents → retrieval/store/prompts`), so the settings class
and the error tree live here: every layer needs them and none may import `api`.
"""
