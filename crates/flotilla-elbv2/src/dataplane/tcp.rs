//! The TCP listener of a network load balancer: each connection goes to the next
//! target of the listener's target group (round robin among healthy ones; every one
//! when none is) and bytes are copied both ways until either side closes.

use super::{Table, proxy::pick_backend};
use crate::model::ActionKind;
use std::sync::{Arc, RwLock};
use tokio::net::{TcpListener, TcpStream};

/// Serves `listener` until `stopped` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    table: Arc<RwLock<Arc<Table>>>,
    stopped: tokio::sync::oneshot::Receiver<()>,
) {
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut client, peer)) = accepted else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let table = table.read().unwrap_or_else(|p| p.into_inner()).clone();
        let group = table.listener.default_actions.first().and_then(|a| match &a.kind {
            ActionKind::Forward { target_groups, .. } => target_groups.first().map(|g| g.target_group_arn.as_str()),
            _ => None,
        });
        table.traffic.flow(&table.listener.load_balancer_arn, group);
        let backend = group.and_then(|g| table.groups.get(g)).and_then(pick_backend);
        tokio::spawn(async move {
            let Some(backend) = backend else {
                tracing::debug!(%peer, "no target for a TCP connection");
                return;
            };
            match TcpStream::connect(backend).await {
                Ok(mut target) => {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut target).await;
                }
                Err(e) => tracing::debug!(%peer, %backend, error = %e, "connecting to a target failed"),
            }
        });
    }
}
