"""The report as one self-contained HTML page: inline CSS, no scripts, no external anything.

The template is the responder's own constant; report values enter only as autoescaped data in
a sandbox, so alert text (`</script>`, `{{ 7*7 }}`) is shown, never parsed or evaluated. A
Content-Security-Policy forbids scripts and remote loads should anything slip through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from responder.reports._text import (
    duration,
    kept,
    pretty_json,
    pretty_source,
    segments,
    show,
    summary_rows,
    trigger_rows,
    verify_script,
)

if TYPE_CHECKING:
    from jinja2 import Template

    from responder.reports._model import Report

__all__ = ["render_html"]

# The responder's own constant, and the only text inserted unescaped.
_CSS = Markup("""
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24;
  max-width: 80rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
  border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; } h3 { font-size: 1rem; }
.wide { overflow-x: auto; margin: .5rem 0; }
table { border-collapse: collapse; min-width: 100%; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .45rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; white-space: nowrap; } tr { page-break-inside: avoid; }
td.k { width: 14rem; min-width: 10rem; font-weight: 600; }
td.n { white-space: nowrap; }
td.text { min-width: 16rem; overflow-wrap: break-word; }
code, pre { font: .85rem/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: #f3f5f7; padding: 0 .2rem; border-radius: 3px; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: .6rem; white-space: pre-wrap;
  overflow-wrap: anywhere; }
pre.raw { white-space: pre; overflow: auto; max-height: 32rem; }
pre.output { max-height: 12rem; overflow: auto; }
details { margin: .5rem 0; } summary { cursor: pointer; font-weight: 600; }
.outcome { font-size: 1.05rem; font-weight: 600; }
.banner { border: 2px solid #9a6700; background: #fff8c5; padding: .5rem .75rem; font-weight: 700; }
.s-done, .s-already, .s-sent, .s-restored, .s-released { color: #1a7f37; font-weight: 600; }
.s-failed { color: #cf222e; font-weight: 700; }
.s-would, .s-pending { color: #9a6700; }
ul.todo { list-style: none; padding-left: 0; } ul.todo li { margin: .35rem 0; }
ul.todo li::before { content: "\\2610  "; font-size: 1.1rem; }
ul.steps { margin: 0; padding-left: 1.1rem; }
footer { margin-top: 2rem; color: #57606a; font-size: .8rem; }
@media print {
  body { max-width: none; margin: 0; font-size: 11pt; }
  pre, code, th, .banner { background: none; }
  .wide, pre.raw, pre.output { overflow: visible; max-height: none; }
  h2 { page-break-after: avoid; } pre { page-break-inside: avoid; }
}
""")

# Summary, timeline and evidence first; the raw JSON last, folded away.
_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incident {{ r.incident.id }}: {{ r.incident.state }}</title>
<style>{{ css }}</style></head><body>
{%- macro fields(rows) %}<div class="wide"><table>{% for label, value in rows %}
<tr><td class="k">{{ label }}</td><td class="text">{{ show(value) }}</td></tr>{% endfor %}
</table></div>{% endmacro %}
{%- macro table(columns, rows) %}<div class="wide"><table><tr>
{%- for title, kind in columns %}<th>{{ title }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for value in row %}<td class="{{ columns[loop.index0][1] }}">
{{- show(value) }}</td>{% endfor %}</tr>
{% endfor %}</table></div>{% endmacro %}
<h1>Incident <code>{{ r.incident.id }}</code></h1>
{% if r.incident.dry_run -%}
<p class="banner">DRY-RUN: NOTHING WAS CHANGED. No container was touched.</p>{% endif %}
<p class="outcome">{{ r.incident.outcome }}</p>
<h2>Summary</h2>{{ fields(summary) }}
<h2>Timeline</h2>
{% if r.timeline %}<div class="wide"><table><tr><th>#</th><th>Action</th><th>Status</th>
<th>Started</th><th>Duration</th><th>Attempts</th><th>Detail</th><th>Error</th>
<th>Last release</th></tr>
{% for s in r.timeline %}<tr><td class="n">{{ s.index + 1 }}</td>
<td class="n"><code>{{ s.action }}</code></td>
<td class="n s-{{ s.status }}">{{ s.status }}</td><td class="n">{{ show(s.started_at) }}</td>
<td class="n">{{ duration(s.duration_ms) }}</td><td class="n">{{ s.attempts }}</td>
<td class="text">{{ show(s.detail) }}</td><td class="text s-failed">{{ show(s.error) }}</td>
<td class="text">{% if s.release_status %}
<span class="s-{{ s.release_status }}">{{ s.release_status }}</span>: {{ show(s.release_detail) }}
{% else %}-{% endif %}</td></tr>
{% endfor %}</table></div>{% else %}<p>No step ran.</p>{% endif %}
<h2>Evidence</h2><p>Directory: <code>{{ r.evidence.directory }}</code></p>
{% if r.evidence.files or r.evidence.manifests %}{{ table(files_head, files) }}
{% if manifests %}{{ table(manifests_head, manifests) }}{% endif %}
{% if verify %}<p>Check the files against the recorded hashes:</p><pre>{{ verify }}</pre>{% endif %}
{% else %}<p>No evidence was collected.</p>{% endif %}
<h2>Release</h2><p>State: <strong>{{ r.release.state }}</strong>
{%- if r.release.released_at %}, at {{ r.release.released_at }}{% endif %}.
{% if not r.release.needed and r.release.state == "not released" -%}
 No step left a change to undo.{% endif %}</p>
{% if r.release.attempts %}<div class="wide"><table><tr><th>#</th><th>At</th>
<th>Requested by</th><th>Result</th><th>What each step came to</th></tr>
{% for a in r.release.attempts %}<tr><td class="n">{{ a.number }}</td><td class="n">{{ a.at }}</td>
<td class="text">{{ a.requested_by }}</td>
<td class="n s-{{ 'failed' if a.state == 'partially released' else 'released' }}">
{{- a.state }}</td><td class="text">
{%- if a.steps %}<ul class="steps">{% for s in a.steps %}<li>{{ s.index + 1 }}.
<code>{{ s.action }}</code>: <span class="s-{{ s.status }}">{{ s.status }}</span>:
{{ show(s.detail) }}</li>{% endfor %}</ul>{% else %}nothing to undo{% endif %}</td></tr>
{% endfor %}</table></div>{% endif %}
<p>Undo the containment with:</p><pre>{{ r.release.command }}</pre>
<h2>Notifications</h2>
{% if notifications %}{{ table(notes_head, notifications) }}
{% else %}<p>No notification was queued.</p>{% endif %}
<h2>Triggering events</h2>{{ fields(trigger) }}
{% if output %}<h3>Output of the first event</h3><pre class="output">{{ output }}</pre>{% endif %}
{% if event is none %}<p>The first event is no longer in the journal.</p>{% endif %}
<h2>Playbook</h2>{{ fields(playbook) }}
<h2>Checklist</h2>
{% for phase in checklist %}<h3>{{ phase.name }}</h3><ul class="todo">
{% for item in phase.entries %}<li>{% for text, is_value in item %}{% if is_value %}<code>{{ text }}</code>
{%- else %}{{ text }}{% endif %}{% endfor %}</li>
{% endfor %}</ul>{% endfor %}
<h2>Raw data</h2>
{% if event is not none %}<details><summary>The first event in full (JSON, raw body included)</summary>
<pre class="raw">{{ event }}</pre></details>{% endif %}
{% if source %}<details><summary>Playbook as it ran (canonical JSON)</summary>
<pre class="raw">{{ source }}</pre></details>{% endif %}
{% if event is none and not source %}<p>Neither the first event nor the playbook's source is kept.</p>
{% endif %}
<footer>{{ r.generated_by }}, {{ r.generated_at }}, schema {{ r.schema_version }}</footer>
</body></html>
"""

# Each table's columns: its title, and "n" (kept on one line: numbers, states, times, hashes)
# or "text" (wraps at words, never narrower than a readable line).
_FILE_COLUMNS = (
    ("Step", "n"),
    ("Name", "text"),
    ("Kind", "n"),
    ("sha256", "n"),
    ("Size", "n"),
    ("Collected at", "n"),
    ("Collected by", "text"),
    ("Truncated", "n"),
)
_MANIFEST_COLUMNS = (
    ("Step", "n"),
    ("Manifest", "text"),
    ("sha256", "n"),
    ("Not collected", "text"),
)
_NOTE_COLUMNS = (
    ("Channel", "n"),
    ("Kind", "n"),
    ("Message", "n"),
    ("State", "n"),
    ("Attempts", "n"),
    ("Last error", "text"),
    ("Queued", "n"),
    ("Sent", "n"),
)
_env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
_template: Template = _env.from_string(_TEMPLATE)


# Long on purpose: the template's context is one literal, an entry per section of the page.
def render_html(report: Report) -> str:
    """The whole report as one HTML page that needs nothing else to display or print."""
    playbook = report.playbook
    event = report.trigger.first_event
    output = event.get("output") if event else None
    context = {
        "r": report,
        "css": _CSS,
        "show": show,
        "duration": duration,
        "summary": summary_rows(report),
        "trigger": trigger_rows(report),
        "event": pretty_json(event) if event is not None else None,
        "output": output if isinstance(output, str) else None,
        "playbook": [
            ("Name", playbook.name),
            ("File", playbook.file),
            ("Version (sha256 of its canonical JSON)", playbook.digest),
            ("Source kept", kept(playbook.source_matches)),
        ],
        "source": pretty_source(playbook.source) if playbook.source else None,
        "files_head": _FILE_COLUMNS,
        "files": [
            [
                f.step + 1,
                f.name,
                f.kind,
                f.sha256,
                f.size,
                f.collected_at,
                f.collected_by,
                f.truncated,
            ]
            for f in report.evidence.files
        ],
        "manifests_head": _MANIFEST_COLUMNS,
        "manifests": [
            [m.step + 1, m.path, m.sha256, "; ".join(m.errors) or None]
            for m in report.evidence.manifests
        ],
        "verify": verify_script(report.evidence),
        "notes_head": _NOTE_COLUMNS,
        "notifications": [
            [
                n.channel,
                n.kind,
                n.message,
                n.state,
                n.attempts,
                n.last_error,
                n.created_at,
                n.sent_at,
            ]
            for n in report.notifications
        ],
        "checklist": [
            {"name": phase.phase, "entries": [segments(item) for item in phase.items]}
            for phase in report.checklist
        ],
    }
    return _template.render(context)
