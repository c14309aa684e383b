//! The baseline of `scripts/load.sh`: a bare axum handler that answers every
//! GET with the bytes of one file (a cached analytics response saved from
//! Lumen), with no middleware. Usage: `bare_server FILE PORT`.

use axum::http::header;
use axum::response::IntoResponse;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(port)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: bare_server FILE PORT");
    };
    let body = axum::body::Bytes::from(std::fs::read(file)?);
    let app = axum::Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port.parse::<u16>()?)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
