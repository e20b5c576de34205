"""A browser-style Server-Sent Events reader over httpx streaming, for the stream tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Frame:
    """One SSE frame: an event (``id``, ``event``, ``data``) or a comment."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def is_comment(self) -> bool:
        return self.id is None and self.event is None and not self.data


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """The frames of a streaming response, as they arrive (a blank line ends each)."""
    frame = Frame()
    async for line in response.aiter_lines():
        if not line:
            if frame.id or frame.event or frame.data or frame.comments:
                yield frame
            frame = Frame()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "":
            frame.comments.append(value)
        elif name == "id":
            frame.id = value
        elif name == "event":
            frame.event = value
        elif name == "data":
            frame.data.append(value)
    if frame.id or frame.event or frame.data or frame.comments:
        yield frame
