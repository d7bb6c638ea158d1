//! HAProxy's runtime API (the `stats socket`, "Management Guide" section
//! 9.3): what the balancer itself believes about each server, read with
//! `show stat`, and commands such as `disable server`.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one command and returns the whole answer (HAProxy closes the
/// connection after a command sent without `prompt`).
pub async fn command(socket: &Path, line: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    let mut answer = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(2),
        stream.read_to_string(&mut answer),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "runtime API"))??;
    Ok(answer)
}

/// Each server of backend `app` and its `status` as `show stat`'s CSV
/// gives it (`pxname`, `svname`, …, `status` is the 18th column): `UP`,
/// `DOWN`, `MAINT`, `DRAIN`, `UP 1/2` (going down), `no check`, …
pub fn parse_statuses(csv: &str) -> Vec<(String, String)> {
    csv.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            let (px, sv, status) = (cols.first()?, cols.get(1)?, cols.get(17)?);
            (*px == "app" && *sv != "BACKEND" && *sv != "FRONTEND")
                .then(|| (sv.to_string(), status.to_string()))
        })
        .collect()
}

/// Each server of backend `app` and whether HAProxy has it in rotation
/// (`UP`, or going down but not yet `DOWN`: `UP 1/2`).
pub fn parse_status(csv: &str) -> Vec<(String, bool)> {
    parse_statuses(csv)
        .into_iter()
        .map(|(name, status)| {
            let up = status.starts_with("UP") || status == "no check";
            (name, up)
        })
        .collect()
}

/// Each server's status, or `None` if HAProxy did not answer.
pub async fn server_statuses(socket: &Path) -> Option<Vec<(String, String)>> {
    command(socket, "show stat")
        .await
        .ok()
        .map(|csv| parse_statuses(&csv))
}

/// The servers HAProxy has in rotation now, or `None` if it did not answer.
pub async fn servers_up(socket: &Path) -> Option<Vec<(String, bool)>> {
    command(socket, "show stat")
        .await
        .ok()
        .map(|csv| parse_status(&csv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_stat_is_read_by_column() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status\n\
                   web,FRONTEND,,,0,1,20000,3,0,0,0,0,0,,,,,OPEN\n\
                   app,app-0,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP\n\
                   app,app-1,0,0,0,1,,3,0,0,,0,,0,0,0,0,DOWN\n\
                   app,app-2,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP 1/2\n\
                   app,BACKEND,0,0,0,1,,3,0,0,,0,,0,0,0,0,UP\n";
        assert_eq!(
            parse_status(csv),
            vec![
                ("app-0".to_string(), true),
                ("app-1".to_string(), false),
                ("app-2".to_string(), true)
            ]
        );
    }
}
