"""The Docker engine: the one seam for the blocking SDK, and which container an alert names."""

from responder.engine._containers import (
    ID_PREFIX_MIN,
    ContainerInfo,
    RefKind,
    answers_to,
    is_container_ref,
    is_full_id,
    is_id_prefix,
    not_found,
    own_container_id,
    reference,
)
from responder.engine._sdk import (
    Abandoned,
    DockerEngine,
    SdkEngine,
    abandoned_calls,
    classify,
    probe_socket,
)
from responder.engine._settings import DockerSettings

__all__ = [
    "ID_PREFIX_MIN",
    "Abandoned",
    "ContainerInfo",
    "DockerEngine",
    "DockerSettings",
    "RefKind",
    "SdkEngine",
    "abandoned_calls",
    "answers_to",
    "classify",
    "is_container_ref",
    "is_full_id",
    "is_id_prefix",
    "not_found",
    "own_container_id",
    "probe_socket",
    "reference",
]
