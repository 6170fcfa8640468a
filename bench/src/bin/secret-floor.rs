//! `secret-floor`: the bare floor plus what every real function has to do at cold start before it can serve —
//! read one secret from Secrets Manager with `aws-config` + `aws-sdk-secretsmanager` (the workspace's trimmed
//! features). The benchmark (`bench`) compares the functions' cold start against this floor.
//!
//! `PERSONA_API_KEY_SECRET_ID` names the secret; the SDK finds the endpoint, region and credentials in the
//! environment as it does on Lambda. A missing or unreadable secret fails the cold start. Every request is
//! answered `200` with a small JSON body (never the secret).

use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};
use serde_json::json;

async fn read_secret() -> Result<usize, Error> {
    let secret_id = std::env::var("PERSONA_API_KEY_SECRET_ID")
        .map_err(|_| "secret-floor: PERSONA_API_KEY_SECRET_ID is required")?;
    let config = aws_config::load_from_env().await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let output = client.get_secret_value().secret_id(&secret_id).send().await.map_err(|e| {
        format!("secret-floor: could not read {secret_id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))
    })?;
    let secret = output.secret_string().ok_or("secret-floor: the secret has no SecretString")?;
    Ok(secret.len())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let secret_len = read_secret().await?;
    lambda_http::run(service_fn(move |request: Request| async move {
        let context = request.lambda_context();
        let body = json!({
            "ok": true,
            "request_id": context.request_id,
            "secret_bytes": secret_len,
            "path": request.uri().path(),
        });
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .header("cache-control", "no-store")
            .body(Body::from(body.to_string()))
            .map_err(Error::from)
    }))
    .await
}
