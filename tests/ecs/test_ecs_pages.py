"""The task listing follows `nextToken` page by page and stops at its limit. moto answers
list_tasks in one page whatever maxResults says, so the paging is driven here by the answers
AWS documents (100 ARNs and a token per page), with no server."""

from __future__ import annotations

import pytest

from opsconsole.backends.ecs.client import EcsClient
from opsconsole.backends.ecs.settings import EcsSettings


def _client(total: int) -> tuple[EcsClient, list[dict]]:
    client = EcsClient(EcsSettings.from_table({"cluster": "c"}))
    arns = [f"arn:aws:ecs:eu-west-1:1:task/c/{i:04d}" for i in range(total)]
    asked: list[dict] = []

    async def call(op, **kw):
        assert op == "list_tasks"
        asked.append(kw)
        start = int(kw.get("nextToken") or 0)
        end = start + kw["maxResults"]
        return {"taskArns": arns[start:end], **({"nextToken": str(end)} if end < total else {})}

    client.call = call  # type: ignore[method-assign]
    return client, asked


@pytest.mark.parametrize("total, limit, want, truncated", [
    (250, 1000, 250, False),   # three pages, the last without a token
    (250, 150, 150, True),     # the limit inside the second page
    (200, 200, 200, False),    # the limit on a page boundary, nothing after it
    (0, 1000, 0, False),
])
async def test_the_listing_follows_next_token_to_the_end_or_the_limit(total, limit, want, truncated):
    client, asked = _client(total)
    arns, cut = await client.task_arns("RUNNING", limit=limit)
    assert arns == [f"arn:aws:ecs:eu-west-1:1:task/c/{i:04d}" for i in range(want)]
    assert cut is truncated
    assert [kw.get("nextToken") for kw in asked] == [None, *(str(n) for n in range(100, len(asked) * 100, 100))]
    assert all(kw["desiredStatus"] == "RUNNING" and kw["cluster"] == "c" for kw in asked)
