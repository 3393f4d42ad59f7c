//! `lab classroom`: `serve` runs the room (the instructor's laptop); `join` and `leave` link a
//! learner's workspace to it, after which every `lab check` and `lab watch` result of that
//! workspace is sent to the room (within a 50 ms budget; queued on disk when it cannot be).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{interrupted, load_lab};
use crate::error::{Error, Result};
use crate::exit;
use crate::report::Report;
use crate::room::client::{self, Sent};
use crate::state::RoomLink;
use crate::state::State;
use crate::workspace::DirArg;

/// `lab classroom serve [--listen ADDR] [--data DIR] [--lab LAB] [--tls-cert PEM --tls-key PEM]`.
pub async fn serve(
    listen: SocketAddr,
    data: Option<PathBuf>,
    lab_id: Option<&str>,
    tls: Option<(PathBuf, PathBuf)>,
    alarm_minutes: u32,
) -> Result {
    let tls = match &tls {
        Some((cert, key)) => {
            Some(crate::room::tls::server_config(cert, key).map_err(Error::Usage)?)
        }
        None => None,
    };
    let lab = match lab_id {
        Some(id) => load_lab(id)?,
        None => {
            let ids = super::list::lab_ids()?;
            match ids.as_slice() {
                [only] => load_lab(only)?,
                _ => {
                    return Err(Error::Usage(format!(
                        "which lab? `--lab LAB`, one of: {}",
                        ids.join(", ")
                    )))
                }
            }
        }
    };
    let data = data.unwrap_or_else(|| crate::dirs::state_dir().join("rooms").join(&lab.id));
    let files = crate::room::RoomFiles::open_or_create(&data).map_err(|e| {
        Error::Failed(format!(
            "cannot use {} for the room's data: {e}",
            data.display()
        ))
    })?;
    let lab_id = lab.id.clone();
    let room =
        crate::room::open(lab, &files, i64::from(alarm_minutes) * 60).map_err(Error::Failed)?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        Error::Usage(format!(
            "cannot listen on {listen}: {e}; pass --listen ADDR:PORT"
        ))
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Failed(e.to_string()))?;
    let public = if bound.ip().is_unspecified() {
        crate::room::lan_address().unwrap_or(bound.ip())
    } else {
        bound.ip()
    };
    let port = bound.port();
    let local = if bound.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        bound.ip().to_string()
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let pin = tls
        .as_ref()
        .map(|(_, fp)| format!(" --fingerprint {fp}"))
        .unwrap_or_default();
    println!(
        "The room for lab {lab_id} is open on {scheme}://{public}:{port} (listening on {bound})."
    );
    println!("\nLearners join with (write it on the whiteboard):");
    println!(
        "  lab classroom join {scheme}://{public}:{port} --code {} --name \"Your Name\"{pin}",
        files.join_code
    );
    if let Some((_, fp)) = &tls {
        println!(
            "(the certificate's fingerprint, which learners' lab trusts and nothing else: {fp})"
        );
    }
    println!("\nYour dashboard (it carries your token once; keep it to yourself):");
    println!(
        "  {scheme}://{local}:{port}/?token={}",
        files.instructor_token
    );
    println!("Projector view, no names: {scheme}://{local}:{port}/projector");
    println!(
        "\nData: {} (room.sqlite, instructor-token, join-code); a restart on it keeps everything.",
        files.dir.display()
    );
    if tls.is_none() {
        println!("Plain HTTP: anyone on this network can read tokens in transit (--tls-cert/--tls-key serve HTTPS).");
    }
    println!("Ctrl-C stops the room.");
    let app = crate::room::app(room).into_make_service_with_connect_info::<crate::room::PeerAddr>();
    let served = match tls {
        Some((config, _)) => {
            let listener = crate::room::tls::TlsListener::new(listener, config)
                .map_err(|e| Error::Failed(e.to_string()))?;
            axum::serve(listener, app)
                .with_graceful_shutdown(interrupted())
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(interrupted())
                .await
        }
    };
    served.map_err(|e| Error::Failed(format!("the room stopped: {e}")))?;
    println!(
        "The room is closed; its data stays in {}.",
        files.dir.display()
    );
    Ok(exit::PASSED)
}

/// `lab classroom join URL --code CODE --name NAME [--dir]`.
pub async fn join(
    url: &str,
    code: &str,
    name: &str,
    fingerprint: Option<&str>,
    dir: &DirArg,
) -> Result {
    let ws = dir.workspace()?;
    client::parse_url(url).map_err(Error::Usage)?;
    let name = crate::room::valid_name(name).map_err(|e| Error::Usage(format!("--name: {e}")))?;
    let body = serde_json::json!({ "code": code, "name": name }).to_string();
    let (status, answer) = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client::request(url, fingerprint, "POST", "/api/v1/join", None, Some(&body)),
    )
    .await
    .map_err(|_| Error::Failed(format!("the room at {url} did not answer within 10 s")))?
    .map_err(Error::Failed)?;
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    match status {
        200 => {}
        409 => {
            return Err(Error::Failed(format!(
                "{}. Nothing was changed.",
                client::error_of(&answer)
            )))
        }
        _ => {
            return Err(Error::Failed(format!(
                "the room refused to join (HTTP {status}): {}",
                client::error_of(&answer)
            )))
        }
    }
    let (Some(token), Some(id)) = (v["token"].as_str(), v["learner_id"].as_i64()) else {
        return Err(Error::Failed(format!(
            "the room at {url} answered without a token"
        )));
    };
    let mut state = State::load(ws.path());
    state.room = Some(RoomLink {
        url: url.trim_end_matches('/').to_string(),
        token: token.to_string(),
        learner_id: id,
        name: name.clone(),
        fingerprint: fingerprint.map(crate::room::tls::normalize_fingerprint),
    });
    state
        .save(ws.path())
        .map_err(|e| Error::Failed(format!("cannot save the room link: {e}")))?;
    println!("Joined the room at {url} as {name:?}.");
    println!(
        "From now on, each `lab check` and `lab watch` in {} sends the room its result: the",
        ws.path().display()
    );
    println!("JSON report (step statuses, messages, expected/found, hints, this workspace's path,");
    println!(
        "the engine's version). Nothing else: no files, no code. `lab classroom leave` stops it."
    );
    Ok(exit::PASSED)
}

/// `lab classroom leave [--dir]`.
pub async fn leave(dir: &DirArg) -> Result {
    let ws = dir.workspace()?;
    let mut state = State::load(ws.path());
    let Some(link) = state.room.take() else {
        println!("{} is not joined to a room.", ws.path().display());
        return Ok(exit::PASSED);
    };
    let told = client::post_as(&link, "/api/v1/leave", std::time::Duration::from_secs(3)).await;
    state
        .save(ws.path())
        .map_err(|e| Error::Failed(format!("cannot save: {e}")))?;
    match told {
        Some(204) => println!(
            "Left the room at {}; it keeps your results, marked as left.",
            link.url
        ),
        _ => println!(
            "Stopped sending to {} (the room could not be told; the instructor can remove you).",
            link.url
        ),
    }
    Ok(exit::PASSED)
}

/// Send a report to the workspace's room, if it joined one, within the budget. One line on
/// stderr when it could not be delivered.
pub async fn report_to_room(workspace: &Path, report: Option<&Report>) {
    let Some(link) = State::load(workspace).room else {
        return;
    };
    // A check or a watch has 50 ms for it; `lab status` (no report, only the queue) has time.
    let budget = if report.is_some() {
        client::BUDGET
    } else {
        std::time::Duration::from_secs(5)
    };
    let json = report.map(crate::report::json::render);
    match client::send(&link, workspace, json, budget).await {
        Sent::Delivered => {}
        Sent::Queued(line) | Sent::Refused(line) => eprintln!("{line}"),
    }
}

/// A heartbeat for a quiet `lab watch`: the room shows the learner online.
pub async fn heartbeat(workspace: &Path) {
    if let Some(link) = State::load(workspace).room {
        let _ = client::post_as(&link, "/api/v1/heartbeat", client::BUDGET * 4).await;
    }
}
