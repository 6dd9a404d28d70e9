"""Resolving an alert's reference on the engine, in the engine's thread, by the one rule.

The engine resolves a reference its own way (exact id, then exact name, then any id prefix);
what it answers is kept only when `answers_to` allows it, and an id prefix the engine answered
by a name is looked up again among the ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import docker.errors

from responder.engine._containers import ContainerInfo, answers_to, is_id_prefix, reference

if TYPE_CHECKING:
    from responder.journal import Target

__all__ = ["inspect_one", "resolve_in"]

_SERVER_ERROR = 500
_AMBIGUOUS = "Multiple IDs found"


def inspect_one(client: docker.DockerClient, ref: str) -> ContainerInfo | None:
    """In the engine's thread: the container the engine finds for `ref`, None when it finds none."""
    try:
        return ContainerInfo.from_inspect(client.api.inspect_container(ref))
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as exc:
        # A prefix more than one id starts with names none: dockerd 20.10 answers it with a
        # 500 ("Multiple IDs found with provided prefix"), newer ones with a 4xx.
        if _AMBIGUOUS in str(exc.explanation or "") or (
            exc.status_code is not None and exc.status_code < _SERVER_ERROR
        ):
            return None
        raise


def resolve_in(client: docker.DockerClient, target: Target, ref: str) -> ContainerInfo | None:
    """In the engine's thread: what the engine finds for `ref`, kept only if the rule allows it."""
    found = inspect_one(client, ref)
    if found is not None and not answers_to(target, found):
        found = None
    if not is_id_prefix(ref):
        return found  # a name: the engine's answer for it, if it is that exact name
    by_name = reference(target)[1] == "name"
    if found is not None and found.name != ref and not by_name:
        return found  # the engine matched the id (whole, or a prefix only one id has)
    # Hex of 12+ digits: every container whose id starts with it, and for a name field, the
    # one named it too. The engine prefers a name to an id prefix; the rule prefers neither.
    candidates = {
        str(s.get("Id", ""))
        for s in client.api.containers(all=True, filters={"id": ref})
        if str(s.get("Id", "")).startswith(ref)
    }
    if by_name:  # `ref` is hex only: nothing in it is special to the engine's name filter
        candidates |= {
            str(s.get("Id", ""))
            for s in client.api.containers(all=True, filters={"name": f"^/{ref}$"})
            if f"/{ref}" in (s.get("Names") or [])
        }
    if len(candidates) != 1:
        return None
    by_id = inspect_one(client, candidates.pop())
    return by_id if by_id is not None and answers_to(target, by_id) else None
