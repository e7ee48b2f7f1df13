//! The request log, connections, start and shutdown.

use tokio::io::AsyncWriteExt;

use super::raw::RawConn;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_is_bounded_and_counts_everything() {
    let api = Api::start(SandboxConfig {
        log_capacity: 5,
        ..SandboxConfig::new(KEY)
    });
    api.get("/customers?offset=1&limit=2").await;
    assert_eq!(
        api.sb.requests(),
        [RequestRecord {
            method: "GET".into(),
            path: "/v1/customers".into(),
            status: 200
        }]
    );
    send(
        api.http
            .get(format!("http://{}{HEALTH_PATH}", api.sb.addr())),
    )
    .await;
    assert_eq!(api.sb.request_count(), 1, "health checks are not logged");
    for id in 0..7 {
        api.get(&format!("/customers/{id}")).await;
    }
    let log = api.sb.requests();
    assert_eq!(log.len(), 5);
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/customers/2",
            "/v1/customers/3",
            "/v1/customers/4",
            "/v1/customers/5",
            "/v1/customers/6"
        ]
    );
    assert!(log.iter().all(|r| r.status == 404));
    assert_eq!(api.sb.request_count(), 8);
    assert_eq!((api.sb.status_count(200), api.sb.status_count(404)), (1, 7));
    api.sb.clear_requests();
    assert_eq!((api.sb.request_count(), api.sb.requests().len()), (0, 0));
    assert_eq!(api.sb.status_count(404), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_pipelining_share_one_connection() {
    let api = Api::demo();
    let mut raw = RawConn::open(&api.sb).await;
    for id in [542335, 542336] {
        raw.send(&format!("GET /v1/customers/{id} HTTP/1.1")).await;
        let (status, body) = raw.read_response().await;
        assert_eq!(status, 200);
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["id"], id);
    }
    // Two requests in one write; two answers, in order.
    let two = format!(
        "{}{}",
        RawConn::request("GET /v1/customers/542337 HTTP/1.1"),
        RawConn::request("GET /v1/customers/x HTTP/1.1")
    );
    raw.stream.write_all(two.as_bytes()).await.unwrap();
    assert_eq!(raw.read_response().await.0, 200);
    assert_eq!(raw.read_response().await.0, 400);
    assert_eq!(api.sb.connection_count(), 1);
    assert_eq!(api.sb.request_count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_last_drop_close_everything() {
    let api = Api::demo();
    let mut raw = RawConn::open(&api.sb).await;
    raw.send("GET /v1/customers/542335 HTTP/1.1").await;
    assert_eq!(raw.read_response().await.0, 200);
    api.sb.shutdown();
    assert_eq!(
        raw.read_to_end(Vec::new()).await,
        b"",
        "the open connection is closed"
    );
    assert!(api
        .http
        .get(api.url("/customers/542335"))
        .send()
        .await
        .is_err());

    // A clone keeps the server up; dropping the last handle stops it.
    let sb = Sandbox::start(SandboxConfig::new(KEY), &tokio::runtime::Handle::current()).unwrap();
    let clone = sb.clone();
    drop(sb);
    let mut raw = RawConn::open(&clone).await;
    raw.send("GET /v1/customers/542335 HTTP/1.1").await;
    assert_eq!(raw.read_response().await.0, 200);
    drop(clone);
    assert_eq!(raw.read_to_end(Vec::new()).await, b"");
}

#[test]
fn starts_from_a_plain_thread_on_a_runtime_owned_elsewhere() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sb = Sandbox::start(SandboxConfig::new(KEY), rt.handle()).unwrap();
    assert!(sb.base_url().starts_with("http://127.0.0.1:"));
    assert!(sb.base_url().ends_with("/v1"));
    assert_eq!(sb.base_url(), format!("http://{}/v1", sb.addr()));
    let url = format!("{}/customers/542335", sb.base_url());
    let status = rt.block_on(async {
        client()
            .get(url)
            .header("Authorization", format!("Bearer {KEY}"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    assert_eq!(sb.customers().len(), 10);
}

#[test]
fn the_handle_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Sandbox>();
    assert_send_sync::<SandboxConfig>();
    assert_send_sync::<Fault>();
}
