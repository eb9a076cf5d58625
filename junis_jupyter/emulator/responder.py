"""The scripted responder: a deterministic markdown answer derived from the prompt.

Same prompt, same answer, so tests and notebooks can check what arrives. Directives in the last
user message (`[[chunks=N]]`, `[[size=N]]`, `[[echo]]`, `[[delay=S]]`) shape the answer and are
removed before it is derived.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DIRECTIVE_RE = re.compile(r"\[\[(chunks|size|echo|delay)(?:=([^\]]*))?\]\]")
MAX_CHUNKS = 1_000_000
MAX_SIZE = 64_000_000    # [[size=N]] cap: 10 MB answers for benchmarks, not a typo that eats memory
_ROUND = ((0, 3), (3, 7), (7, 12), (12, 18))   # split_pieces: (start, end) in each 18 characters
_WORD_RE = re.compile(r"\w+")
_ADJECTIVES = ["clear", "steady", "careful", "quick", "simple", "robust", "useful", "concise"]
_NOUNS = ["summary", "trend", "pattern", "signal", "estimate", "outline", "insight", "check"]


class DirectiveError(ValueError):
    """A directive with a value that cannot be honoured (reported as 400 naming `messages`)."""


@dataclass(frozen=True)
class Directives:
    chunks: int | None = None
    size: int | None = None
    echo: bool = False
    delay: float | None = None


def parse_directives(prompt: str) -> tuple[Directives, str]:
    """The directives found in `prompt`, and the prompt without them."""
    counts: dict[str, int] = {}
    echo = False
    delay: float | None = None
    for name, value in DIRECTIVE_RE.findall(prompt):
        try:
            if name == "echo":
                echo = True
            elif name == "delay":
                delay = float(value)
                if not 0 <= delay <= 3600:
                    raise ValueError
            else:
                counts[name] = count = int(value)
                if not 1 <= count <= (MAX_CHUNKS if name == "chunks" else MAX_SIZE):
                    raise ValueError
        except ValueError:
            raise DirectiveError(f"directive [[{name}={value}]] has an invalid value") from None
    directives = Directives(chunks=counts.get("chunks"), size=counts.get("size"), echo=echo,
                            delay=delay)
    return directives, DIRECTIVE_RE.sub("", prompt)


def compose(prompt: str) -> str:
    """The markdown answer for a prompt (already stripped of directives)."""
    text = " ".join(prompt.split())
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()
    words = _WORD_RE.findall(text)
    title = " ".join(words[:6])
    title = title[:1].upper() + title[1:] if title else "Your question"
    pick = [int(digest[i:i + 2], 16) for i in range(0, 12, 2)]
    quote = text if len(text) <= 80 else text[:77] + "..."
    points = [f"- A {_ADJECTIVES[pick[i] % 8]} {_NOUNS[pick[i + 3] % 8]} of the question"
              for i in range(3)]
    longest = max(words, key=len) if words else ""
    snippet = text[:60]
    return (
        f"## {title}\n\n"
        f"You asked: \u201c{quote}\u201d. Here is a scripted answer.\n\n"
        + "\n".join(points) + "\n\n"
        "| measure | value |\n|---|---|\n"
        f"| words | {len(words)} |\n| characters | {len(text)} |\n"
        f"| longest word | {longest or '-'} |\n| fingerprint | {digest[:8]} |\n\n"
        "```python\n"
        f"prompt = {snippet!r}\n"
        "print(len(prompt.split()), \"words\")\n"
        "```\n"
    )


def fit(text: str, size: int) -> str:
    """`text` repeated or cut to exactly `size` characters."""
    if not text:
        text = "."
    repeats = size // (len(text) + 2) + 2
    return "\n\n".join([text] * repeats)[:size]


def split_pieces(text: str, chunks: int | None) -> list[str]:
    """Cut `text` into streaming pieces: exactly `chunks` of them when asked, else a few
    characters each."""
    if chunks is not None:
        if len(text) < chunks:
            text = fit(text, chunks)
        step, extra = divmod(len(text), chunks)
        pieces, start = [], 0
        for index in range(chunks):
            end = start + step + (1 if index < extra else 0)
            pieces.append(text[start:end])
            start = end
        return pieces
    # 3, 4, 5, 6 characters in turn (varying but deterministic): 18 characters a round; only the
    # last round can end in empty slices
    pieces = [text[start + a:start + b] for start in range(0, len(text), 18) for a, b in _ROUND]
    while pieces and not pieces[-1]:
        pieces.pop()
    return pieces


def answer_text(prompt: str) -> tuple[str, Directives]:
    """The full answer for the last user message, and the directives it carried."""
    directives, rest = parse_directives(prompt)
    text = rest.strip() if directives.echo else compose(rest)
    if directives.size is not None:
        text = fit(text, max(directives.size, directives.chunks or 0))
    elif directives.chunks is not None and len(text) < directives.chunks:
        text = fit(text, directives.chunks * 4)
    return text, directives
