//! `lbsim demo` in a real browser: Debian's Chromium, driven through
//! chromedriver (WebDriver), against the real HAProxy, app servers and
//! redis-server the demo starts. A student logs in and reads which server
//! answered; the teacher presses "crash" for that server on the control
//! page; the student reloads and sees what the strategy predicts: logged
//! out with sessions in the app servers' memory, still logged in (same
//! session, another server) with sessions in Redis; and after a Redis
//! crash without persistence, logged out.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use super::*;

/// A running `lbsim demo`; dropping it sends Ctrl-C and waits.
struct Demo {
    child: Child,
    app: String,
    control: String,
}

impl Demo {
    fn start(strategy: &str) -> Demo {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lbsim"))
            .args(["demo", "sticky-vs-redis", "--port", "0", "--drain", "1s"])
            .args(["--strategy", strategy])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = |label: &str| {
            let line = lines
                .by_ref()
                .map_while(Result::ok)
                .find(|l| l.trim_start().starts_with(label))
                .unwrap_or_else(|| panic!("the demo printed no `{label}` line"));
            line.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .unwrap()
                .to_string()
        };
        let app = url("application");
        let _stats = url("HAProxy stats");
        let control = url("control page");
        std::thread::spawn(move || lines.for_each(drop));
        Demo {
            child,
            app,
            control,
        }
    }

    /// Ctrl-C; returns the exit status.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        self.child.wait().unwrap()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.interrupt();
        }
    }
}

/// chromedriver with a headless Chromium; dropping it stops both.
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = redis_process::free_port().unwrap();
        let driver = Command::new(find_binary("chromedriver", None).expect(
            "chromedriver is not installed: run scripts/test.sh (apt-get install chromium-driver)",
        ))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
        let profile = tempfile::tempdir().unwrap();
        // The flags Chromium needs as root in a container without a
        // network (see the report's browser test).
        let args = serde_json::json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            format!("--user-data-dir={}", profile.path().display()),
        ]);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() > deadline => panic!("no browser session: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Browser {
            driver,
            client,
            _profile: profile,
        }
    }

    async fn text(&self, id: &str) -> Option<String> {
        let element = self.client.find(Locator::Id(id)).await.ok()?;
        element.text().await.ok()
    }

    /// Opens the application's page until it is a page of the app (the
    /// home page or the login page), not an error from a server that is
    /// down or a store that is reconnecting; returns (served-by, the
    /// logged-in user if any, session id if any).
    async fn app_page(&self, url: &str) -> (String, Option<String>, Option<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            self.client.goto(url).await.unwrap();
            if let Some(server) = self.text("served-by").await {
                let logged_in = self.client.find(Locator::Id("session-id")).await.is_ok();
                if logged_in {
                    return (
                        server,
                        self.text("user").await,
                        self.text("session-id").await,
                    );
                }
                return (server, None, None);
            }
            assert!(Instant::now() < deadline, "the application never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn log_in(&self, url: &str, user: &str) {
        self.client.goto(url).await.unwrap();
        let field = self.client.find(Locator::Id("user")).await.unwrap();
        field.send_keys(user).await.unwrap();
        self.client
            .find(Locator::Id("login"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // WebDriver's click returns once the click is dispatched, not when
        // the form's POST and its 303 to the home page have finished: a
        // `goto` at once can cancel the POST before its cookie is stored
        // (CI saw the next page logged out). Wait for the home page.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.client.find(Locator::Id("session-id")).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "the login of {user} never reached the home page"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Presses a button of the control page and waits until the log says
    /// `expect`.
    async fn press(&self, control: &str, button: &str, expect: &str) -> String {
        self.client.goto(control).await.unwrap();
        self.client
            .find(Locator::Id(button))
            .await
            .unwrap_or_else(|_| panic!("no button #{button}"))
            .click()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = self.text("log").await.unwrap_or_default();
            if log.contains(expect) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the log never said {expect:?}: {log}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

fn index_of(server: &str) -> u32 {
    server.trim_start_matches("app-").parse().unwrap()
}

#[test]
fn sticky_in_memory_a_crash_of_the_students_server_logs_them_out() {
    let demo = Demo::start("sticky + in-memory");
    block_on(async {
        let browser = Browser::start().await;
        browser.log_in(&demo.app, "alice").await;
        let (server, user, session) = browser.app_page(&demo.app).await;
        assert_eq!(user.as_deref(), Some("alice"));
        assert!(session.is_some());
        // Sticky: every reload comes back to the same server.
        for _ in 0..3 {
            assert_eq!(browser.app_page(&demo.app).await.0, server);
        }
        let n = index_of(&server);
        let log = browser
            .press(&demo.control, &format!("crash-app-{n}"), "was killed")
            .await;
        assert!(
            log.contains(&format!("app-{n} was killed (SIGKILL) and the 1 session")),
            "{log}"
        );
        let (after, user, _) = browser.app_page(&demo.app).await;
        assert_ne!(
            after, server,
            "HAProxy still sent the user to the dead server"
        );
        assert_eq!(user, None, "still logged in after the crash of {server}");
        let why = browser.text("why").await.unwrap_or_default();
        assert!(why.contains("session is gone"), "{why}");
        browser.close().await;
    });
}

#[test]
fn redis_sessions_survive_a_server_crash_but_not_a_redis_crash_without_persistence() {
    let demo = Demo::start("redis, no persistence");
    block_on(async {
        let browser = Browser::start().await;
        browser.log_in(&demo.app, "bob").await;
        let (server, user, session) = browser.app_page(&demo.app).await;
        assert_eq!(user.as_deref(), Some("bob"));
        let n = index_of(&server);
        browser
            .press(&demo.control, &format!("crash-app-{n}"), "was killed")
            .await;
        // Round-robin: reloads go round the servers, none of them the dead
        // one, each reading the same session from Redis.
        for _ in 0..4 {
            let (after, user_after, session_after) = browser.app_page(&demo.app).await;
            assert_ne!(after, server);
            assert_eq!(user_after.as_deref(), Some("bob"), "logged out on {after}");
            assert_eq!(session_after, session);
        }
        let log = browser
            .press(&demo.control, "redis-crash", "Redis was killed")
            .await;
        assert!(log.contains("held 1 session and came back with 0"), "{log}");
        let (_, user, _) = browser.app_page(&demo.app).await;
        assert_eq!(user, None, "still logged in after Redis lost everything");
        browser.close().await;
    });
}

#[test]
fn ctrl_c_of_the_demo_stops_every_process_it_started() {
    let mut demo = Demo::start("redis, no persistence");
    let pid = demo.child.id();
    let children = children_of(pid);
    // 6 app servers, HAProxy and redis-server.
    assert_eq!(children.len(), 8, "children of lbsim demo: {children:?}");
    let status = demo.interrupt();
    assert!(status.success(), "{status}");
    assert_all_stopped(pid, &children, true);
}
