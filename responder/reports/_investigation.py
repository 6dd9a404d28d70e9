"""The investigation phase: who to tell, what failed, and how to read this incident's evidence."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from responder.reports._facts import item

if TYPE_CHECKING:
    from responder.reports._facts import Facts
    from responder.reports._parts import ChecklistItem

__all__ = ["investigation"]

# What to do with each kind of evidence; `{f}` is the file's path, quoted for the shell.
_HINTS = {
    "top": (
        "Look for unexpected processes (shells, miners, network tools): {}",
        "jq . {f}",
    ),
    "logs": ("Read the container's logs around the first event ({}): {}", "less {f}"),
    "diff": (
        (
            "List what changed on its filesystem (Kind 0 changed, 1 added, 2 deleted); look for "
            "new binaries, scripts, cron entries and SSH keys: {}"
        ),
        "jq -r '.[] | \"\\(.Kind) \\(.Path)\"' {f}",
    ),
    "inspect": (
        "Check how it ran (user, privileges, capabilities, mounts): {}",
        (
            "jq '{User: .Config.User, Privileged: .HostConfig.Privileged, "
            "CapAdd: .HostConfig.CapAdd, Mounts: .Mounts}' {f}"
        ),
    ),
    "export": (
        "List the exported filesystem without extracting or running it: {}",
        "tar -tvf {f} | less",
    ),
}


def investigation(facts: Facts) -> list[ChecklistItem]:
    """What to read, check and tell first, most urgent first."""
    items = []
    unsent = [n for n in facts.notifications if n.state != "sent"]
    if unsent:
        channels = ", ".join(sorted({n.channel for n in unsent}))
        items.append(item("Not every notification arrived ({}): tell on-call yourself.", channels))
    items.extend(
        item(
            "Step {} ({}) failed with {}: the container may not be contained; look now: {}",
            str(step.index + 1),
            step.action,
            step.error or step.detail,
            _state_command(facts),
        )
        for step in facts.timeline
        if step.status == "failed"
    )
    items.extend(_evidence_items(facts))
    name = shlex.quote(facts.trigger.name)
    items.append(
        item(
            "Read the triggering event above, then every event of this rule ({} in this "
            "incident, first {}, last {}): {}",
            str(facts.trigger.count),
            facts.trigger.first_seen,
            facts.trigger.last_seen,
            f"responder events --name {name}",
        )
    )
    if facts.record.image:
        image = shlex.quote(facts.record.image)
        items.append(
            item(
                "Inspect the image {} for the cause (unexpected layers, packages, entrypoint): {}",
                facts.record.image,
                f"docker image history --no-trunc {image}",
            )
        )
    return items


# Long on purpose: one checklist item per kind of evidence, each a command to copy.
def _evidence_items(facts: Facts) -> list[ChecklistItem]:
    """How to check and read each kind of evidence, or how to take it if none was."""
    if not facts.evidence.files:
        if facts.ref and facts.release.state == "not released":
            ref = shlex.quote(facts.ref)
            command = (
                f"docker inspect {ref} > inspect.json; docker logs --timestamps {ref} "
                f"> logs.txt 2>&1; docker diff {ref} > diff.txt"
            )
            return [
                item("No evidence was collected: capture it before anything changes: {}", command)
            ]
        return [item("No evidence was collected for this incident.")]
    items = [
        item(
            "Check the manifest is unchanged: {} must print {}",
            f"sha256sum {shlex.quote(manifest.path)}",
            manifest.sha256,
        )
        for manifest in facts.evidence.manifests
    ]
    items.append(
        item(
            "Verify every file against its recorded sha256 before reading it (the commands under "
            "Evidence); a mismatch means it changed after collection. Evidence is in {}",
            facts.evidence.directory,
        )
    )
    items.extend(
        item("{} was cut at {} bytes: that copy is incomplete.", file.name, str(file.size))
        for file in facts.evidence.files
        if file.truncated
    )
    for kind, (template, command) in _HINTS.items():
        file = facts.kinds.get(kind)
        if file is not None and file.path is not None:
            values = [command.replace("{f}", shlex.quote(file.path))]
            if kind == "logs":
                values.insert(0, facts.trigger.first_seen)
            items.append(item(template, *values))
    if commit := facts.kinds.get("commit"):
        items.append(
            item(
                "The committed image {} holds the container as it was; inspect it, never run it "
                "with a network: {}",
                commit.name.removeprefix("image:"),
                f"docker image inspect sha256:{commit.sha256}",
            )
        )
    return items


def _state_command(facts: Facts) -> str:
    """A command that shows whether the container is running and on which networks."""
    if not facts.ref:
        return "docker ps"
    fmt = "{{.State.Status}} {{json .NetworkSettings.Networks}}"
    return f"docker inspect --format {shlex.quote(fmt)} {shlex.quote(facts.ref)}"
