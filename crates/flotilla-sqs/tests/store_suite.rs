//! The SQS store's suite, run on every backend (SQLite always; PostgreSQL when
//! `FLOTILLA_TEST_POSTGRES_URL` is set, and always under `CI=true`): receives are safe
//! under concurrency, from one process or from two sharing the database.

use flotilla_db::testing::backends;
use flotilla_sqs::store::{Claim, Created, NewMessage, NewQueue, QueueRecord, Receipt, SqsStore};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

fn queue(name: &str, fifo: bool) -> NewQueue {
    NewQueue {
        name: name.to_string(),
        fifo,
        attributes: BTreeMap::new(),
        tags: BTreeMap::new(),
        retention_ms: 345_600_000,
        dead_letter_target: None,
    }
}

fn message(body: String, group: Option<&str>, dedup: Option<&str>) -> NewMessage {
    NewMessage {
        message_id: uuid_like(&body),
        body,
        attributes: None,
        trace_header: None,
        delay_ms: 0,
        group_id: group.map(str::to_string),
        dedup_id: dedup.map(str::to_string),
        dedup_key: dedup.map(|d| format!(":{d}")),
    }
}

fn uuid_like(body: &str) -> String {
    format!("id-{body}")
}

async fn create(store: &SqsStore, q: NewQueue) -> QueueRecord {
    let now = store.now_ms().await.unwrap();
    match store.create_queue(&q, now).await.unwrap() {
        Created::Created(q) => q,
        Created::Exists(_) => panic!("{} exists", q.name),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_receivers_get_each_of_200_messages_exactly_once() {
    for b in backends() {
        // Two stores on one database: two replicas' worth of connections.
        let stores = [SqsStore::open(&b.location).await.unwrap(), SqsStore::open(&b.location).await.unwrap()];
        let q = create(&stores[0], queue("many", false)).await;
        let now = stores[0].now_ms().await.unwrap();
        for chunk in 0..20 {
            let batch: Vec<NewMessage> = (0..10).map(|i| message(format!("m{}", chunk * 10 + i), None, None)).collect();
            stores[0].send(&q, &batch, now).await.unwrap();
        }
        let mut receivers = Vec::new();
        for r in 0..20 {
            let store = stores[r % 2].clone();
            let q = q.clone();
            receivers.push(tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let now = store.now_ms().await.unwrap();
                    let claim = Claim { max: 1 + (r as i64 % 10), visibility_ms: 300_000, redrive: None };
                    let received = store.receive(&q, &claim, now).await.unwrap();
                    // Others may have won every candidate: done only when none is left.
                    if received.messages.is_empty() && !store.has_ready(&q, now).await.unwrap() {
                        break got;
                    }
                    got.extend(received.messages.into_iter().map(|m| m.body));
                }
            }));
        }
        let mut all = Vec::new();
        for r in receivers {
            all.extend(r.await.unwrap());
        }
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(all.len(), 200, "{}: every message once, none twice", b.label);
        assert_eq!(distinct.len(), 200, "{}", b.label);
        let counts = stores[1].counts(&q, stores[1].now_ms().await.unwrap()).await.unwrap();
        assert_eq!((counts.visible, counts.in_flight), (0, 200), "{}", b.label);
        for s in &stores {
            s.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_fifo_receivers_keep_each_group_in_order_and_one_at_a_time() {
    for b in backends() {
        let stores = [SqsStore::open(&b.location).await.unwrap(), SqsStore::open(&b.location).await.unwrap()];
        let q = create(&stores[0], queue("groups.fifo", true)).await;
        let now = stores[0].now_ms().await.unwrap();
        // 5 groups of 12, interleaved.
        let batch: Vec<NewMessage> = (0..60)
            .map(|i| {
                let group = format!("g{}", i % 5);
                message(format!("{group}-{:02}", i / 5), Some(&group), Some(&format!("d{i}")))
            })
            .collect();
        for chunk in batch.chunks(10) {
            stores[0].send(&q, chunk, now).await.unwrap();
        }
        let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
        let delivered: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let mut receivers = Vec::new();
        for r in 0..10 {
            let (store, q, in_flight, delivered) =
                (stores[r % 2].clone(), q.clone(), in_flight.clone(), delivered.clone());
            receivers.push(tokio::spawn(async move {
                loop {
                    let now = store.now_ms().await.unwrap();
                    let claim = Claim { max: 3, visibility_ms: 300_000, redrive: None };
                    let received = store.receive(&q, &claim, now).await.unwrap().messages;
                    if received.is_empty() {
                        let counts = store.counts(&q, now).await.unwrap();
                        if counts.visible + counts.in_flight == 0 {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        continue;
                    }
                    let groups: HashSet<String> = received.iter().map(|m| m.group_id.clone().unwrap()).collect();
                    {
                        let mut flying = in_flight.lock().unwrap();
                        for g in &groups {
                            assert!(flying.insert(g.clone()), "group {g} delivered while a message of it is in flight");
                        }
                        let mut seen = delivered.lock().unwrap();
                        for m in &received {
                            seen.entry(m.group_id.clone().unwrap()).or_default().push(m.body.clone());
                        }
                    }
                    tokio::task::yield_now().await;
                    // Out of flight before the delete commits, so the next receive of
                    // the group can only come after it.
                    in_flight.lock().unwrap().retain(|g| !groups.contains(g));
                    let receipts: Vec<Receipt> = received
                        .iter()
                        .map(|m| Receipt { row_id: m.row_id, token: m.receipt.clone().unwrap() })
                        .collect();
                    let deleted = store.delete(&q, &receipts, store.now_ms().await.unwrap()).await.unwrap();
                    assert!(deleted.iter().all(|d| *d));
                }
            }));
        }
        for r in receivers {
            r.await.unwrap();
        }
        let delivered = delivered.lock().unwrap().clone();
        assert_eq!(delivered.len(), 5, "{}", b.label);
        for (group, bodies) in delivered.iter() {
            let expected: Vec<String> = (0..12).map(|i| format!("{group}-{i:02}")).collect();
            assert_eq!(bodies, &expected, "{}: group {group} in order, each once", b.label);
        }
        for s in &stores {
            s.close().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_fifo_sends_of_one_deduplication_id_store_one_message() {
    for b in backends() {
        let stores = [SqsStore::open(&b.location).await.unwrap(), SqsStore::open(&b.location).await.unwrap()];
        let q = create(&stores[0], queue("dedup.fifo", true)).await;
        let mut senders = Vec::new();
        for i in 0..10 {
            let (store, q) = (stores[i % 2].clone(), q.clone());
            senders.push(tokio::spawn(async move {
                let now = store.now_ms().await.unwrap();
                store.send(&q, &[message(format!("copy{i}"), Some("g"), Some("same"))], now).await.unwrap()
            }));
        }
        let mut outcomes = Vec::new();
        for s in senders {
            outcomes.extend(s.await.unwrap());
        }
        assert_eq!(outcomes.iter().filter(|s| !s.duplicate).count(), 1, "{}", b.label);
        let first = outcomes.iter().find(|s| !s.duplicate).unwrap();
        assert!(
            outcomes.iter().all(|s| s.message_id == first.message_id && s.sequence_number == first.sequence_number)
        );
        let counts = stores[0].counts(&q, stores[0].now_ms().await.unwrap()).await.unwrap();
        assert_eq!(counts.visible, 1, "{}", b.label);
        for s in &stores {
            s.close().await;
        }
    }
}

#[tokio::test]
async fn a_visibility_change_and_a_delete_need_the_current_receipt() {
    for b in backends() {
        let store = SqsStore::open(&b.location).await.unwrap();
        let q = create(&store, queue("receipts", false)).await;
        let now = store.now_ms().await.unwrap();
        store.send(&q, &[message("one".into(), None, None)], now).await.unwrap();
        let claim = Claim { max: 1, visibility_ms: 0, redrive: None };
        let first = store.receive(&q, &claim, now).await.unwrap().messages.remove(0);
        let second =
            store.receive(&q, &Claim { visibility_ms: 60_000, ..claim }, now).await.unwrap().messages.remove(0);
        let old = Receipt { row_id: first.row_id, token: first.receipt.unwrap() };
        let current = Receipt { row_id: second.row_id, token: second.receipt.unwrap() };
        assert_eq!(second.receive_count, 2);
        let changed = store.change_visibility(&q, &[(old.clone(), 1000), (current.clone(), 1000)], now).await.unwrap();
        assert_eq!(changed, [flotilla_sqs::store::Changed::Stale, flotilla_sqs::store::Changed::Done], "{}", b.label);
        assert_eq!(store.delete(&q, &[old, current], now).await.unwrap(), [false, true], "{}", b.label);
        store.close().await;
    }
}
