"""Prompt templates as files: `prompts/<agent>/<name>.yaml`, loaded by id, rendered purely.

    prompt = load_prompt("customer_service/answer")
    rendered = render(prompt, {"question": ..., "sources": [...]})

See `prompts/loader.py` for the file format and the untrusted-text delimiters.
"""

from prompts.loader import (
    UNTRUSTED_DATA_RULE,
    Prompt,
    PromptError,
    PromptVariable,
    RenderedPrompt,
    delimit,
    load_prompt,
    parse_prompt,
    render,
)

__all__ = [
    "UNTRUSTED_DATA_RULE",
    "Prompt",
    "PromptError",
    "PromptVariable",
    "RenderedPrompt",
    "delimit",
    "load_prompt",
    "parse_prompt",
    "render",
]
