//! The app server's pages: a login form and a home page that shows what a
//! student needs to see (who they are, their session, which server
//! answered, how many sessions that server holds). Plain HTML, no script.

use super::sessions::SessionView;

use crate::report::html::escape;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:2em auto}}\
         dt{{font-weight:bold}}.server{{font-size:2em}}</style></head>\n\
         <body>\n{body}\n</body></html>\n",
        title = escape(title)
    )
}

/// The login page; `why` says why the user sees it.
pub fn login(server: &str, why: &str) -> String {
    page(
        "Log in",
        &format!(
            "<h1>Log in</h1>\n<p id=\"why\">{why}</p>\n\
             <form method=\"post\" action=\"/login\">\
             <label>User <input name=\"user\" id=\"user\" autofocus required></label> \
             <button type=\"submit\" id=\"login\">Log in</button></form>\n\
             <p>Answered by <span id=\"served-by\">{server}</span>.</p>",
            why = escape(why),
            server = escape(server)
        ),
    )
}

/// The home page of a logged-in user.
pub fn home(
    server: &str,
    session_id: &str,
    view: &SessionView,
    sessions_here: u64,
    store: &str,
) -> String {
    let created = humantime::format_rfc3339_millis(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(view.created_ms),
    );
    page(
        "Logged in",
        &format!(
            "<h1>Hello, <span id=\"user\">{user}</span></h1>\n\
             <p class=\"server\">Answered by <b id=\"served-by\">{server}</b></p>\n\
             <dl><dt>Session id</dt><dd id=\"session-id\">{session}</dd>\
             <dt>Session created</dt><dd id=\"created\">{created}</dd>\
             <dt>Sessions kept by {where_}</dt><dd id=\"sessions\">{sessions_here}</dd></dl>\n\
             <p><a href=\"/\">Reload</a></p>",
            user = escape(&view.user),
            server = escape(server),
            session = escape(session_id),
            where_ = match store {
                "local" => format!("{} (in its memory)", escape(server)),
                // Nothing: the session is the signed cookie itself.
                "cookie" => "the servers (it is in your signed cookie)".to_string(),
                _ => "Redis (shared by every server)".to_string(),
            },
        ),
    )
}
