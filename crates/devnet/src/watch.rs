//! The run `gradual devnet` does: start, live progress until Ctrl-C, `rounds` settled or a
//! stall, stop, judge, print the summary (a table, or JSON) and fail on a failed verdict.

use crate::{node_line, progress_line, render_summary, Devnet, DevnetConfig};
use anyhow::bail;
use std::io::IsTerminal;
use std::time::Duration;

/// Run a devnet from `cfg` to its verdict.
pub async fn run(
    cfg: DevnetConfig,
    rounds: Option<u64>,
    stall_secs: u64,
    json: bool,
) -> anyhow::Result<()> {
    cfg.check().map_err(anyhow::Error::msg)?;
    let dir = cfg.dir.clone();
    eprintln!("starting devnet in {} ...", dir.display());
    let cleanup = cfg.cleanup;
    let mut net = match Devnet::start(cfg).await {
        Ok(net) => net,
        Err(e) => {
            if cleanup {
                let _ = std::fs::remove_dir_all(&dir);
            }
            bail!(e);
        }
    };
    eprintln!(
        "validator {} | task {} | {} nodes (logs: {}/node-*/node.log, task logs: node-*/data/logs/)",
        net.client.url(),
        net.task,
        net.nodes.len(),
        dir.display()
    );
    let result = watch(&mut net, rounds, stall_secs).await;
    eprintln!("stopping nodes and validator ...");
    net.stop_nodes().await;
    let summary = net.summary().await;
    net.shutdown().await;
    let passed = result.is_ok() && summary.as_ref().is_ok_and(|s| s.ok);
    if net.cfg.cleanup && passed {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => eprintln!("removed {} (keep it with --keep)", dir.display()),
            Err(e) => eprintln!("warning: cannot remove {}: {e}", dir.display()),
        }
    } else if passed {
        eprintln!("kept {} (remove it with: rm -r {0})", dir.display());
    } else {
        eprintln!(
            "kept {} for its logs (node-*/node.log, node-*/data/logs/); remove it with: rm -r {0}",
            dir.display()
        );
    }
    result?;
    let summary = summary.map_err(anyhow::Error::msg)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", render_summary(&net, &summary));
    }
    if !summary.ok {
        bail!(
            "devnet verdict: FAILED ({} problem(s), listed above)",
            summary.failures.len()
        );
    }
    Ok(())
}

/// Live progress until Ctrl-C, `rounds` settled, or a stall.
async fn watch(net: &mut Devnet, rounds: Option<u64>, stall_secs: u64) -> anyhow::Result<()> {
    let tty = std::io::stderr().is_terminal();
    let multi = indicatif::MultiProgress::with_draw_target(if tty {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    });
    let style = indicatif::ProgressStyle::with_template("{spinner} {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
    let head = multi.add(indicatif::ProgressBar::new_spinner().with_style(style.clone()));
    let lines: Vec<_> = net
        .nodes
        .iter()
        .map(|_| multi.add(indicatif::ProgressBar::new_spinner().with_style(style.clone())))
        .collect();
    let poll_every = Duration::from_millis((net.cfg.slot_ms * 3).clamp(100, 2_000));
    let mut last_settled = 0;
    let mut last_change = std::time::Instant::now();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => { head.finish_with_message("interrupted"); break; }
            _ = tokio::time::sleep(poll_every) => {}
        }
        let t = match net.poll().await {
            Ok(t) => t,
            Err(e) => {
                head.set_message(format!("cannot read the task: {e}"));
                continue;
            }
        };
        head.set_message(progress_line(net, &t));
        head.tick();
        for (bar, n) in lines.iter().zip(&net.nodes) {
            bar.set_message(node_line(net, n, &t));
            bar.tick();
        }
        let settled = net.settled();
        if settled != last_settled {
            if !tty {
                eprintln!("{}", progress_line(net, &t));
            }
            last_settled = settled;
            last_change = std::time::Instant::now();
        }
        if rounds.is_some_and(|n| settled >= n) {
            head.finish_with_message(format!("{settled} round(s) settled"));
            break;
        }
        if last_change.elapsed() > Duration::from_secs(stall_secs) {
            bail!(
                "no round settled for {stall_secs} s; see the node logs under {}",
                net.cfg.dir.display()
            );
        }
    }
    for l in lines {
        l.finish();
    }
    Ok(())
}
