//! The control page's HTML: the buttons (plain forms, which work without
//! script), and a live part (servers, Redis, the log) that a few lines of
//! script fetch again every second from `live`.

use super::actions::{Action, LogEntry, ServerRow};
use crate::report::html::escape;
use crate::sim::store::RestartMode;

/// What the page shows now.
pub struct View<'a> {
    pub strategy: &'a str,
    pub scenario: &'a str,
    pub store_words: &'a str,
    pub app_url: &'a str,
    pub stats_url: &'a str,
    pub servers: Vec<ServerRow>,
    /// `Some(sessions)` for a strategy with Redis: `None` inside while it
    /// is down.
    pub redis: Option<Option<u64>>,
    pub log: Vec<LogEntry>,
    pub busy: Option<Action>,
}

fn button(action: Action, id: &str, enabled: bool) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><button id=\"{id}\"{}>{}</button></form>",
        action.path(),
        if enabled { "" } else { " disabled" },
        escape(&capitalised(&action.label()))
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The whole page.
pub fn full(view: &View) -> String {
    let mut servers = String::new();
    for s in &view.servers {
        let n = s.index;
        servers.push_str(&format!(
            "<div class=\"row\"><span class=\"name\">app-{n}</span>{}{}</div>\n",
            button(Action::Crash(n), &format!("crash-app-{n}"), s.running),
            button(
                Action::Recover(n),
                &format!("recover-app-{n}"),
                !s.running && !s.removed
            ),
        ));
    }
    let redis = if view.redis.is_some() {
        format!(
            "<h2>Redis</h2><div class=\"row\">{}{}</div>\n",
            button(
                Action::RedisRestart(RestartMode::Crash),
                "redis-crash",
                true
            ),
            button(
                Action::RedisRestart(RestartMode::Graceful),
                "redis-graceful",
                true
            )
        )
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>lbsim demo: {strategy}</title>\n<style>{STYLE}</style></head>\n<body>\n\
         <h1>lbsim demo: {strategy}</h1>\n\
         <p>Scenario <b>{scenario}</b>. Sessions live {store}.</p>\n\
         <p>Students: <a href=\"{app}\" target=\"_blank\">{app}</a> · \
         HAProxy's own view: <a href=\"{stats}\" target=\"_blank\">statistics page</a></p>\n\
         <div class=\"controls\"><div>\n<h2>App servers</h2>\n{servers}</div>\n\
         <div>{redis}<h2>The farm</h2><div class=\"row\">{out}{scale_in}{deploy}</div></div></div>\n\
         <div id=\"live\">{live}</div>\n<script>{SCRIPT}</script>\n</body></html>\n",
        strategy = escape(view.strategy),
        scenario = escape(view.scenario),
        store = escape(view.store_words),
        app = escape(view.app_url),
        stats = escape(view.stats_url),
        out = button(Action::ScaleOut, "scale-out", true),
        scale_in = button(Action::ScaleIn, "scale-in", true),
        deploy = button(Action::Deploy, "deploy", true),
        live = live(view),
    )
}

/// The part fetched every second: the state and the log.
pub fn live(view: &View) -> String {
    let mut rows = String::new();
    for s in &view.servers {
        let sessions = match s.sessions {
            Some(n) => n.to_string(),
            None if view.redis.is_some() => "in Redis".into(),
            None => "–".into(),
        };
        let process = if s.removed {
            "left the farm"
        } else if s.running {
            "running"
        } else {
            "killed"
        };
        rows.push_str(&format!(
            "<tr id=\"state-app-{n}\"><td>app-{n}</td><td>{process}</td>\
             <td class=\"status\">{status}</td><td>{sessions}</td></tr>\n",
            n = s.index,
            status = escape(&s.status),
        ));
    }
    let redis = match view.redis {
        Some(Some(n)) => format!("<p id=\"redis-state\">Redis is up and holds {n} sessions.</p>"),
        Some(None) => "<p id=\"redis-state\">Redis does not answer.</p>".to_string(),
        None => String::new(),
    };
    let busy = match view.busy {
        Some(action) => format!(
            "<p class=\"busy\">Under way: {}…</p>",
            escape(&action.label())
        ),
        None => String::new(),
    };
    let mut log = String::new();
    for entry in view.log.iter().rev() {
        let secs = entry.at.as_secs();
        log.push_str(&format!(
            "<li{}><span class=\"when\">{:02}:{:02}</span> <b>{}</b>: {}</li>\n",
            if entry.failed {
                " class=\"failed\""
            } else {
                ""
            },
            secs / 60,
            secs % 60,
            escape(&entry.action),
            escape(&entry.sentence)
        ));
    }
    if log.is_empty() {
        log.push_str("<li>Nothing yet: press a button.</li>");
    }
    format!(
        "<h2>Now</h2>\n<table><tr><th>server</th><th>process</th><th>HAProxy says</th>\
         <th>sessions in its memory</th></tr>\n{rows}</table>\n{redis}{busy}\n\
         <h2>What happened</h2>\n<ol id=\"log\" reversed>\n{log}</ol>"
    )
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:60em;margin:1.5em auto;\
padding:0 1em}.controls{display:flex;gap:3em;flex-wrap:wrap}.row{display:flex;gap:.5em;\
align-items:center;margin:.3em 0}.name{width:4em;font-weight:bold}button{font:inherit;\
padding:.2em .8em}table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:\
1px solid #ccc;text-align:left}#log li{margin:.4em 0}.when{color:#666;font-family:monospace}\
.failed{color:#a00}.busy{color:#555;font-style:italic}";

/// Fetches the live part again every second.
const SCRIPT: &str = "setInterval(async()=>{try{const r=await fetch('live');\
if(r.ok){document.getElementById('live').innerHTML=await r.text();}}catch(e){}},1000);";
