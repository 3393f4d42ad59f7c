//! The room's pages, rendered on the server with minijinja (autoescaping: everything a learner
//! sends is text on the page). The dashboard updates itself from the Server-Sent Events stream
//! with a few lines of plain JavaScript that fetch the grid again; no front-end build step.

use std::sync::OnceLock;

use minijinja::{context, Environment};

use super::store::Learner;
use super::RoomView;
use crate::lab::Lab;
use crate::report::{Report, Status};

const STYLE: &str = r#"
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #6e7781; --line: #d0d7de; }
body { font: 15px/1.45 system-ui, "DejaVu Sans", Arial, sans-serif; margin: 1.2rem; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
table { border-collapse: collapse; } th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { font-size: .85rem; }
td.st { font-size: .75rem; font-weight: 700; text-transform: uppercase; letter-spacing: .02em; white-space: nowrap; }
td.st.pass { color: var(--ok); background: rgba(26,127,55,.12); } td.st.fail, td.st.error { color: var(--bad); background: rgba(207,34,46,.12); }
td.st.warn, td.st.skip { color: var(--warn); background: rgba(154,103,0,.12); } td.st.not-started { color: var(--muted); font-weight: 400; text-transform: none; }
span.st { font-weight: 700; text-transform: uppercase; font-size: .8rem; }
span.pass { color: var(--ok); } span.fail, span.error { color: var(--bad); } span.warn, span.skip { color: var(--warn); }
.on::before { content: "\25CF  "; color: var(--ok); } .off::before { content: "\25CB  "; color: var(--muted); }
.muted { color: var(--muted); } nav a { margin-right: 1rem; }
.wrap { overflow-x: auto; } form.inline { display: inline; } input[name=name] { width: 7rem; }
pre { white-space: pre-wrap; max-height: 12rem; overflow: auto; background: rgba(127,127,127,.1); padding: .4rem; }
.proj { font-size: 2.2rem; } .proj td { padding: .5rem 1.5rem; } .proj .n { font-weight: 700; }
"#;

const LAYOUT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>{% block title %}{% endblock %}</title><style>{{ style|safe }}</style></head>
<body>{% block body %}{% endblock %}</body></html>"#;

const ROOM: &str = r#"<p class="muted" id="summary">{{ room.learners|length }} learner(s), {{ room.online }} online</p>
<div class="wrap"><table id="grid">
<thead><tr><th>learner</th>{% for s in room.steps %}<th title="{{ s.title }}">{{ s.id }}{% if s.optional %} <span class="muted">(bonus)</span>{% endif %}</th>{% endfor %}<th>on step</th><th>for</th><th>last check</th><th>score</th><th></th></tr></thead>
<tbody>
{% for l in room.learners %}<tr data-learner="{{ l.id }}">
<td class="{{ 'on' if l.online else 'off' }}"><a href="/learners/{{ l.id }}">{{ l.name }}</a>{% if l.left %} <span class="muted">(left)</span>{% endif %}</td>
{% for s in room.steps %}{% set st = l.steps[s.id] %}<td class="st {{ st|replace(' ', '-') }}" data-step="{{ s.id }}">{{ st }}</td>{% endfor %}
<td>{{ l.current or "done" }}</td><td>{{ l.in_current }}</td><td>{{ l.last_report }}</td><td>{{ l.score }} / {{ l.max_score }}</td>
<td><form class="inline" method="post" action="/learners/{{ l.id }}/rename"><input name="name" aria-label="new name for {{ l.name }}" placeholder="rename"><button>rename</button></form>
<form class="inline" method="post" action="/learners/{{ l.id }}/remove" onsubmit="return confirm('Remove this learner and their results?')"><button>remove</button></form></td>
</tr>{% else %}<tr><td colspan="99" class="muted">Nobody has joined yet.</td></tr>{% endfor %}
</tbody></table></div>
<h2>Where the room is stuck</h2>
{% if room.stuck %}<div class="wrap"><table id="stuck"><thead><tr><th>check</th><th>learners</th><th>since</th><th>what they see</th><th>hint</th><th>book</th></tr></thead><tbody>
{% for s in room.stuck %}<tr><td><code>{{ s.check }}</code></td><td>{{ s.learners }}</td><td title="{{ s.since }}">{{ s.since_ago }}</td><td>{{ s.message }}</td><td>{{ s.hint }}</td><td><code>book/src/{{ s.book }}</code></td></tr>{% endfor %}
</tbody></table></div>{% else %}<p class="muted">No failing checks right now.</p>{% endif %}"#;

const DASHBOARD: &str = r#"{% extends "layout.html" %}
{% block title %}{{ room.lab }}: room{% endblock %}
{% block body %}
<h1>{{ room.title }}</h1>
<nav><a href="/projector">projector view</a><a href="/api/v1/export.csv">CSV export</a><span class="muted" id="live">live</span></nav>
<div id="room">{% include "room.html" %}</div>
<script>
// Live: each room event fetches the grid again (server-rendered), at most every 300 ms.
let pending = false;
async function refresh() {
  if (pending) return; pending = true;
  setTimeout(async () => {
    pending = false;
    const r = await fetch('/fragment/room', { credentials: 'same-origin' });
    if (r.ok) document.getElementById('room').innerHTML = await r.text();
  }, 300);
}
const events = new EventSource('/api/v1/events');
events.addEventListener('room', refresh);
events.onerror = () => { document.getElementById('live').textContent = 'reconnecting...'; };
events.onopen = () => { document.getElementById('live').textContent = 'live'; };
setInterval(refresh, 30000); // "online" and "for" age even when nothing happens
</script>
{% endblock %}"#;

const PROJECTOR: &str = r#"{% extends "layout.html" %}
{% block title %}{{ room.lab }}: the room{% endblock %}
{% block body %}
<h1 class="proj">{{ room.title }}</h1>
<table class="proj" id="counts"><tbody>
{% for s in room.steps %}<tr><td>{{ s.title }}{% if s.optional %} (bonus){% endif %}</td><td class="n">{{ s.passed }} / {{ present }}</td></tr>{% endfor %}
</tbody></table>
<script>
const events = new EventSource('/api/v1/events');
let t = null;
events.addEventListener('room', () => { clearTimeout(t); t = setTimeout(() => location.reload(), 500); });
</script>
{% endblock %}"#;

const LEARNER: &str = r#"{% extends "layout.html" %}
{% block title %}{{ name }}{% endblock %}
{% block body %}
<nav><a href="/">&larr; the room</a></nav>
<h1>{{ name }}{% if left %} <span class="muted">(left)</span>{% endif %}</h1>
<p class="muted">latest results, as <code>lab check</code> showed them{% if generated_at %} (newest {{ generated_at }}){% endif %}</p>
{% for s in steps %}<h2><span class="st {{ s.status }}">{{ s.status }}</span> {{ s.id }}: {{ s.title }}</h2>
{% if s.checks %}<ul>{% for c in s.checks %}<li><span class="st {{ c.status }}">{{ c.status }}</span> <code>{{ c.id }}</code>: {{ c.message }}
{% if c.location %}<br>at: <code>{{ c.location }}</code>{% endif %}
{% if c.expected %}<br>expected: <code>{{ c.expected }}</code>{% endif %}
{% if c.found %}<br>found: <code>{{ c.found }}</code>{% endif %}
{% if c.hint %}<br>fix: {{ c.hint }}{% endif %}
{% if c.detail %}<pre>{{ c.detail }}</pre>{% endif %}</li>{% endfor %}</ul>{% endif %}
{% if s.status != "pass" %}<p>hint: {{ s.hint }} <span class="muted">(book/src/{{ s.book }})</span></p>{% endif %}
{% else %}<p class="muted">No check yet.</p>{% endfor %}
{% endblock %}"#;

const MESSAGE: &str = r#"{% extends "layout.html" %}{% block title %}lab classroom{% endblock %}
{% block body %}<h1>lab classroom</h1><p>{{ text }}</p>{% endblock %}"#;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // Autoescape follows the template name: every one here is .html.
        for (name, src) in [
            ("layout.html", LAYOUT),
            ("room.html", ROOM),
            ("dashboard.html", DASHBOARD),
            ("projector.html", PROJECTOR),
            ("learner.html", LEARNER),
            ("message.html", MESSAGE),
        ] {
            e.add_template(name, src)
                .expect("the room's templates parse");
        }
        e
    })
}

fn render(name: &str, ctx: minijinja::Value) -> Result<String, String> {
    env()
        .get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| format!("cannot render {name}: {e}"))
}

/// The instructor's dashboard.
pub fn dashboard(room: &RoomView) -> Result<String, String> {
    render("dashboard.html", context! { room, style => STYLE })
}

/// The grid and the stuck list alone, for the live refresh.
pub fn room_fragment(room: &RoomView) -> Result<String, String> {
    render("room.html", context! { room })
}

/// The wall: counts per step, no names.
pub fn projector(room: &RoomView) -> Result<String, String> {
    let present = room.learners.iter().filter(|l| !l.left).count();
    render("projector.html", context! { room, present, style => STYLE })
}

/// One learner's latest report.
pub fn learner(_lab: &Lab, l: &Learner, report: &Report) -> Result<String, String> {
    let steps: Vec<minijinja::Value> = report
        .steps
        .iter()
        .map(|s| {
            let shown: Vec<_> = s
                .checks
                .iter()
                .filter(|c| c.status != Status::Pass || s.status != Status::Pass)
                .collect();
            minijinja::Value::from_serialize(serde_json::json!({
                "id": s.id, "title": s.title, "status": s.status, "book": s.book,
                "hint": s.hint, "checks": shown,
            }))
        })
        .collect();
    render(
        "learner.html",
        context! { name => l.name, left => l.left, steps, generated_at => report.generated_at, style => STYLE },
    )
}

/// A page with one sentence.
pub fn message(text: &str) -> String {
    render("message.html", context! { text, style => STYLE })
        .unwrap_or_else(|_| "lab classroom".into())
}
