"""Post-incident reports: every section in every format, honest states, and hostile alert text."""

from __future__ import annotations

import json
import re
import stat
from typing import TYPE_CHECKING

from _builders import make_event
from _reports import (
    EXPORT_SHA,
    HOSTILE,
    IMAGE_SHA,
    INCIDENT_ID,
    LOGS_SHA,
    MANIFEST_SHA,
    PLAYBOOK_DIGEST,
    PLAYBOOK_SOURCE,
    evidence_dir,
    hostile_event,
    incident,
    outbox_record,
    pause_step,
    seed,
    snapshot_step,
)

from responder.incidents import Incidents
from responder.journal import JOURNAL_FILE, JournalReader
from responder.reports import (
    FORMATS,
    Report,
    build_report,
    collect_report,
    render,
    report_dir,
    write_report,
)
from responder.reports._parts import EvidenceFile, EvidenceSection, Manifest
from responder.reports._text import verify_script

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from responder.incidents import IncidentRecord
    from responder.journal import Event
    from responder.notifications.outbox import OutboxRecord

SECTIONS = (
    "Summary",
    "Timeline",
    "Evidence",
    "Release",
    "Notifications",
    "Triggering events",
    "Playbook",
    "Checklist",
    "Raw data",
)
PHASES = ("Investigation", "Eradication", "Recovery", "Lessons learned")
JSON_KEYS = {"incident", "target", "trigger", "playbook", "timeline", "evidence"} | {
    "notifications",
    "release",
    "checklist",
    "schema_version",
    "generated_at",
}
# What `responder.text` strips: C0 (but tab, newline), DEL, C1, line separators, bidi.
CONTROLS = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def report_of(
    data_dir: Path,
    record: IncidentRecord | None = None,
    *,
    event: Event | None = None,
    notifications: Sequence[OutboxRecord] = (),
    source: str | None = PLAYBOOK_SOURCE,
    public_url: str | None = None,
) -> Report:
    """The report of `record` (a contained incident by default)."""
    event = event or make_event()
    return build_report(
        record or incident(data_dir, event),
        event,
        notifications,
        playbook_source=source,
        data_dir=data_dir,
        public_url=public_url,
    )


def hostile_report(data_dir: Path) -> Report:
    """Alert text everywhere it can reach: event, names, step detail and error, notifications."""
    event = hostile_event()
    forged = HOSTILE + "\n# Forged heading\n| a | b | c |"
    record = incident(
        data_dir,
        event,
        event_name=HOSTILE,
        target=HOSTILE,
        reason=forged,
        state="partially contained",
        steps=(
            snapshot_step(data_dir),
            pause_step(status="failed", detail=forged, error=forged, undo=None),
        ),
    )
    failed = outbox_record(1, HOSTILE, state="failed", last_error=forged, sent_at=None)
    return report_of(data_dir, record, event=event, notifications=[failed])


def outside_fences(markdown: str) -> list[str]:
    """The lines of a Markdown text that are not inside a fenced code block."""
    lines, fence = [], ""
    for line in markdown.splitlines():
        if fence:
            if line.strip() and set(line.strip()) == {"`"} and len(line.strip()) >= len(fence):
                fence = ""
        elif line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
        else:
            lines.append(line)
    return lines


def checklist_text(report: Report, phase: str) -> str:
    """Every item of one checklist phase, as plain text."""
    [found] = [p for p in report.checklist if p.phase == phase]
    return "\n".join(item.text for item in found.items)


def test_every_section_is_in_every_format(tmp_path: Path) -> None:
    """Markdown and HTML have a heading per section; JSON has a key per section."""
    report = report_of(tmp_path)
    markdown, html = render(report, "md"), render(report, "html")
    for section in SECTIONS:
        assert f"\n## {section}\n" in markdown
        assert f"<h2>{section}</h2>" in html
    assert set(json.loads(render(report, "json"))) >= JSON_KEYS


def test_checklist_has_the_four_remaining_phases_unticked(tmp_path: Path) -> None:
    """Investigation, eradication, recovery, lessons learned: each with unticked items."""
    report = report_of(tmp_path)
    assert [phase.phase for phase in report.checklist] == list(PHASES)
    assert all(len(phase.items) >= 2 for phase in report.checklist)
    markdown = render(report, "md")
    for phase in PHASES:
        assert f"### {phase}\n\n- [ ] " in markdown
    assert "- [x]" not in markdown


def test_timeline_lists_every_step_with_start_duration_and_attempts(tmp_path: Path) -> None:
    """Each step appears with its start, its duration and its attempts."""
    report = report_of(tmp_path)
    markdown = render(report, "md")
    snapshot = "| `1` | `docker:snapshot` | `done` | `2025-03-14T09:26:54.100000+00:00` | `1.8 s` |"
    pause = "| `2` | `docker:pause` | `done` | `2025-03-14T09:26:56+00:00` | `42 ms` | `1` |"
    assert snapshot in markdown
    assert pause in markdown
    assert [step.action for step in report.timeline] == ["docker:snapshot", "docker:pause"]


def test_evidence_hashes_and_manifest_are_in_every_format(tmp_path: Path) -> None:
    """Each artifact's sha256, the manifest's path and its sha256 are listed."""
    report = report_of(tmp_path)
    manifest = str(evidence_dir(tmp_path) / "manifest.json")
    for fmt in FORMATS:
        text = render(report, fmt)
        for expected in (LOGS_SHA, EXPORT_SHA, IMAGE_SHA, MANIFEST_SHA, manifest):
            assert expected in text, (fmt, expected)
    [listed] = report.evidence.manifests
    assert listed.errors == ("top: web is paused: it has no processes to list",)


def test_evidence_check_script_covers_files_and_manifest_not_images(tmp_path: Path) -> None:
    """The `sha256sum -c` block names each file and the manifest, never a committed image."""
    markdown = render(report_of(tmp_path), "md")
    script = markdown.split("sha256sum -c <<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
    assert script.splitlines() == [
        f"{LOGS_SHA}  logs.txt",
        f"{EXPORT_SHA}  export.tar",
        f"{MANIFEST_SHA}  manifest.json",
    ]


def test_investigation_points_at_the_evidence_and_the_image(tmp_path: Path) -> None:
    """The manifest check, the evidence directory, the cut export and the image are named."""
    report = report_of(tmp_path)
    text = checklist_text(report, "Investigation")
    manifest = evidence_dir(tmp_path) / "manifest.json"
    assert f"sha256sum {manifest} must print {MANIFEST_SHA}" in text
    assert str(evidence_dir(tmp_path)) in text
    assert "export.tar was cut at 1024 bytes" in text
    assert "docker image history --no-trunc nginx:1.25" in text
    assert f"docker image inspect sha256:{IMAGE_SHA}" in text


def test_contained_incident_asks_for_a_clean_rebuild_then_release(tmp_path: Path) -> None:
    """Recovery says to redeploy from a clean image, then names the release command."""
    report = report_of(tmp_path)
    text = checklist_text(report, "Recovery")
    assert "Redeploy from a clean, rebuilt image" in text
    assert f"responder release {INCIDENT_ID}" in text
    assert report.release.needed
    assert report.release.state == "not released"


def test_release_command_is_in_every_format(tmp_path: Path) -> None:
    """The exact command that undoes the containment is printed."""
    report = report_of(tmp_path)
    for fmt in FORMATS:
        assert f"responder release {INCIDENT_ID}" in render(report, fmt)


def test_failed_step_shows_its_error_and_tells_to_look_now(tmp_path: Path) -> None:
    """A failed step's error is in the timeline, and investigation says to check the container."""
    failed = pause_step(status="failed", error="engine said 409: container is not running")
    record = incident(
        tmp_path, state="failed", reason="step 2 failed", steps=(snapshot_step(tmp_path), failed)
    )
    report = report_of(tmp_path, record)
    assert "engine said 409: container is not running" in render(report, "md")
    assert "engine said 409" in render(report, "html")
    text = checklist_text(report, "Investigation")
    assert "Step 2 (docker:pause) failed with engine said 409" in text
    assert "docker inspect --format" in text
    assert "NOT contained" in report.incident.outcome


def test_dry_run_says_plainly_nothing_was_changed(tmp_path: Path) -> None:
    """A dry-run report says nothing was changed, and offers to pause the container by hand."""
    would = pause_step(status="would", detail="would pause web", undo=None)
    record = incident(tmp_path, state="dry-run", dry_run=True, steps=(would,))
    report = report_of(tmp_path, record)
    assert not report.incident.changed
    assert not report.release.needed
    assert "DRY\\-RUN: NOTHING WAS CHANGED" in render(report, "md")
    assert "DRY-RUN: NOTHING WAS CHANGED" in render(report, "html")
    assert "nothing was changed" in report.incident.outcome
    assert "docker pause 0123456789ab" in checklist_text(report, "Eradication")
    assert "Release has nothing to undo" in checklist_text(report, "Recovery")


def test_released_incident_shows_release_results_and_time(tmp_path: Path) -> None:
    """Release status and detail per step, the release time, and no advice to release again."""
    paused = pause_step(release_status="restored", release_detail="unpaused web")
    record = incident(
        tmp_path,
        state="released",
        released_at="2025-03-14T11:00:00+00:00",
        steps=(snapshot_step(tmp_path), paused),
    )
    report = report_of(tmp_path, record)
    assert report.release.state == "released"
    assert report.release.released_at == "2025-03-14T11:00:00+00:00"
    assert "`restored: unpaused web`" in render(report, "md")
    text = checklist_text(report, "Recovery")
    assert "Release ran at 2025-03-14T11:00:00+00:00 (released)" in text
    assert "Redeploy" not in text


def test_partial_release_names_the_step_left_to_fix(tmp_path: Path) -> None:
    """A step release could not undo is named in recovery."""
    paused = pause_step(release_status="failed", release_detail="no such container")
    record = incident(
        tmp_path,
        state="partially released",
        released_at="2025-03-14T11:00:00+00:00",
        steps=(snapshot_step(tmp_path), paused),
    )
    text = checklist_text(report_of(tmp_path, record), "Recovery")
    assert "Release could not undo step 2 (docker:pause): no such container" in text


def test_notifications_show_channel_and_delivery_state(tmp_path: Path) -> None:
    """Each notification's channel, state, attempts and last error; a failed one is followed up."""
    notes = [
        outbox_record(1, "oncall-slack"),
        outbox_record(
            2,
            "pager",
            kind="pagerduty",
            state="failed",
            attempts=5,
            sent_at=None,
            last_error="HTTP 400: invalid routing key",
        ),
    ]
    report = report_of(tmp_path, notifications=notes)
    markdown = render(report, "md")
    assert "| `oncall-slack` | `slack` | `incident` | `sent` | `1` | `-` |" in markdown
    assert "| `pager` | `pagerduty` | `incident` | `failed` | `5` |" in markdown
    assert "Not every notification arrived (pager)" in checklist_text(report, "Investigation")
    assert "Fix the channel pager" in checklist_text(report, "Lessons learned")


def test_playbook_source_is_shown_and_checked_against_its_digest(tmp_path: Path) -> None:
    """The kept source is shown; it matches the digest, and a tampered one is flagged."""
    report = report_of(tmp_path)
    assert report.playbook.digest == PLAYBOOK_DIGEST
    assert report.playbook.source_matches is True
    assert '"action": "docker:snapshot"' in render(report, "md")
    tampered = report_of(tmp_path, source=PLAYBOOK_SOURCE.replace("snapshot", "pause"))
    assert "does NOT match the digest" in render(tampered, "md")
    assert report_of(tmp_path, source=None).playbook.source_matches is None


def test_first_event_is_shown_in_full_with_its_raw_body(tmp_path: Path) -> None:
    """The first event's JSON, raw body included, is in the report."""
    event = make_event(raw={"rule": "Terminal shell in container", "priority": "Notice"})
    report = report_of(tmp_path, event=event)
    assert report.trigger.first_event == event.model_dump(mode="json")
    assert '"raw": {\n    "rule": "Terminal shell in container"' in render(report, "md")


def test_a_first_event_gone_from_the_journal_is_said(tmp_path: Path) -> None:
    """Without the event the report still renders and says where it went."""
    record = incident(tmp_path)
    report = build_report(record, None, [], playbook_source=None, data_dir=tmp_path)
    assert "no longer in the journal" in render(report, "md")
    assert "no longer in the journal" in render(report, "html")


def test_public_url_links_the_html_report(tmp_path: Path) -> None:
    """With a public URL the report gives its address; without, its path on the host."""
    report = report_of(tmp_path, public_url="https://responder.example/")
    expected = f"https://responder.example/v1/incidents/{INCIDENT_ID}/report?format=html"
    assert report.url == expected
    assert expected in checklist_text(report, "Lessons learned")
    local = checklist_text(report_of(tmp_path), "Lessons learned")
    assert str(report_dir(tmp_path, INCIDENT_ID) / "report.md") in local


def test_html_is_self_contained(tmp_path: Path) -> None:
    """No external stylesheet, script, image, font or import; a CSP forbids them anyway."""
    html = render(hostile_report(tmp_path), "html").lower()
    for reference in ("<link", "src=", "@import", "url(", "<script", "<img", "<iframe"):
        assert reference not in html
    assert "default-src 'none'" in html


def test_hostile_html_cannot_open_a_tag(tmp_path: Path) -> None:
    """`</script><script>` from an alert is escaped text in the HTML."""
    html = render(hostile_report(tmp_path), "html")
    assert "<script" not in html.lower()
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in html


def test_template_syntax_in_alerts_is_printed_not_evaluated(tmp_path: Path) -> None:
    """`{{ 7*7 }}` appears literally in every format and is never computed."""
    report = hostile_report(tmp_path)
    for fmt in FORMATS:
        text = render(report, fmt)
        assert "calc={{ 7*7 }}" in text, fmt
        assert "calc=49" not in text, fmt


def test_control_characters_are_gone_from_every_format(tmp_path: Path) -> None:
    """Escapes, bidi overrides, line separators and C1 controls never reach a report."""
    report = hostile_report(tmp_path)
    for fmt in FORMATS:
        text = render(report, fmt)
        assert not CONTROLS.search(text), fmt
    as_json = render(report, "json")
    assert "\\u001b" not in as_json
    assert "[31mred" in as_json  # the text around the escape is kept


def test_markdown_tables_keep_their_columns(tmp_path: Path) -> None:
    """Pipes and line breaks in alert text never add, drop or split a table cell or row."""
    markdown = render(hostile_report(tmp_path), "md")
    tables: list[list[str]] = [[]]
    for line in outside_fences(markdown):
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    checked = [table for table in tables if table]
    assert len(checked) >= 6
    for table in checked:
        widths = {len(UNESCAPED_PIPE.findall(row)) for row in table}
        assert len(widths) == 1, table


def test_alert_text_cannot_forge_markdown_structure(tmp_path: Path) -> None:
    """A newline plus `#` in alert text never starts a heading; backtick runs never end a span."""
    markdown = render(hostile_report(tmp_path), "md")
    lines = outside_fences(markdown)
    assert not any(line.startswith("# Forged") for line in lines)
    assert [line for line in lines if line.startswith("# ")] == [
        f"# Incident report `{INCIDENT_ID}`"
    ]
    # The rule name holds a run of three backticks: its code span is fenced with four.
    assert "| Rule or alert | ````calc={{ 7*7 }} `tick` ``` fence \\| pipe \\|" in markdown
    assert "\n````text\ncalc={{ 7*7 }}" in markdown


def test_checklist_commands_quote_alert_text_for_the_shell(tmp_path: Path) -> None:
    """A hostile rule name is single-quoted where it forms part of a command."""
    report = hostile_report(tmp_path)
    commands = [v for phase in report.checklist for i in phase.items for v in i.values]
    named = [c for c in commands if c.startswith("responder events --name ")]
    assert named
    assert all(c.startswith("responder events --name 'calc={{ 7*7 }}") for c in named)


def test_report_json_round_trips(tmp_path: Path) -> None:
    """The JSON form reads back into the same report."""
    report = report_of(tmp_path)
    assert Report.model_validate_json(render(report, "json")) == report


def test_write_report_writes_three_private_files(tmp_path: Path) -> None:
    """report.md, report.json and report.html, readable by the owner only, no temporary left."""
    report = report_of(tmp_path)
    paths = write_report(report, tmp_path)
    directory = report_dir(tmp_path, INCIDENT_ID)
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]
    assert sorted(p.name for p in directory.iterdir()) == sorted(p.name for p in paths)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text(encoding="utf-8") == render(report, path.suffix[1:])  # type: ignore[arg-type]


def test_write_report_replaces_an_earlier_report(tmp_path: Path) -> None:
    """Writing again after release replaces the files with the new state."""
    write_report(report_of(tmp_path), tmp_path)
    released = incident(tmp_path, state="released", released_at="2025-03-14T11:00:00+00:00")
    write_report(report_of(tmp_path, released), tmp_path)
    written = json.loads((report_dir(tmp_path, INCIDENT_ID) / "report.json").read_text())
    assert written["release"]["state"] == "released"


async def test_collect_report_reads_the_stores(tmp_path: Path) -> None:
    """From a real incident store and journal: the incident, its first event, its playbook."""
    event = make_event()
    await seed(tmp_path, incident(tmp_path, event), event)
    incidents, reader = Incidents(tmp_path), JournalReader(tmp_path / JOURNAL_FILE)
    await incidents.open()

    async def lookup(event_id: str) -> Event | None:
        """Find the event in the journal, as the CLI does."""
        return reader.event(event_id)

    try:
        report = await collect_report(
            INCIDENT_ID,
            incidents=incidents,
            event=lookup,
            outbox_records=None,
            data_dir=tmp_path,
            public_url=None,
        )
        missing = await collect_report(
            "01JQ8ZK3V5T7W9X1Y2Z3A4B5ZZ",
            incidents=incidents,
            event=lookup,
            outbox_records=None,
            data_dir=tmp_path,
            public_url=None,
        )
    finally:
        await incidents.close()
        reader.close()
    assert report is not None
    assert report.trigger.first_event == event.model_dump(mode="json")
    assert report.playbook.source == PLAYBOOK_SOURCE
    assert report.notifications == ()
    assert missing is None


def test_no_image_means_no_image_commands(tmp_path: Path) -> None:
    """Without an image the checklist skips the image steps and leaves no empty value."""
    report = report_of(tmp_path, incident(tmp_path, image=None))
    values = [v for phase in report.checklist for i in phase.items for v in i.values]
    assert all(v.strip() for v in values)
    assert not any("docker image history" in v or "ancestor=" in v for v in values)


def test_no_evidence_means_capture_it_now(tmp_path: Path) -> None:
    """Without a snapshot, investigation gives the commands to capture evidence by hand."""
    report = report_of(tmp_path, incident(tmp_path, steps=(pause_step(),)))
    text = checklist_text(report, "Investigation")
    assert "No evidence was collected: capture it before anything changes" in text
    assert "docker inspect 0123456789ab > inspect.json" in text
    assert "No evidence was collected" in render(report, "md")


def test_evidence_check_script_names_later_steps_files_by_their_directory() -> None:
    """A later snapshot's files are checked as `step-N/name`; paths it cannot vouch for are left out."""
    sha = "a" * 64

    def file(path: str) -> EvidenceFile:
        return EvidenceFile(
            step=2,
            name=path.rsplit("/", 1)[-1],
            kind="logs",
            sha256=sha,
            size=1,
            collected_at="t",
            collected_by="x",
            truncated=False,
            path=path,
        )

    evidence = EvidenceSection(
        directory="/data/evidence/I",
        files=(
            file("/data/evidence/I/logs.txt"),
            file("/data/evidence/I/step-3/logs.txt"),
            file("/data/evidence/other/logs.txt"),
            file("/data/evidence/I/a/b/logs.txt"),
            file("/data/evidence/I/step 3/logs.txt"),
        ),
        manifests=(Manifest(step=2, path="/data/evidence/I/step-3/manifest.json", sha256=sha),),
    )
    assert verify_script(evidence) == (
        "cd /data/evidence/I\nsha256sum -c <<'EOF'\n"
        f"{sha}  logs.txt\n{sha}  step-3/logs.txt\n{sha}  step-3/manifest.json\nEOF"
    )
