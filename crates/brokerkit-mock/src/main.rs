//! `brokerkit-mock <vendor> [--port N]`: serves one vendor's sandbox on 127.0.0.1 until
//! interrupted, for tools written in other languages (or schemathesis).

use std::process::ExitCode;

const USAGE: &str =
    "usage: brokerkit-mock <tradelocker|autoshares|traderevolution|slate> [--port N]";

fn parse(args: &[String]) -> Result<(String, u16), String> {
    let mut vendor = None;
    let mut port = 0u16;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                let v = it.next().ok_or("--port needs a number")?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port: `{v}` is not a port number"))?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            v if vendor.is_none() => vendor = Some(v.to_string()),
            other => return Err(format!("unexpected argument `{other}`\n{USAGE}")),
        }
    }
    Ok((vendor.ok_or(USAGE)?, port))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (vendor, port) = match parse(&args) {
        Ok(v) => v,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::FAILURE;
        }
    };
    macro_rules! run {
        ($module:ident) => {{
            match brokerkit_mock::$module::serve_on(port).await {
                Ok(server) => {
                    println!("{} sandbox listening on {}", vendor, server.base_url());
                    let _ = tokio::signal::ctrl_c().await;
                    drop(server);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot start the {vendor} sandbox on port {port}: {e}");
                    ExitCode::FAILURE
                }
            }
        }};
    }
    match vendor.as_str() {
        "tradelocker" => run!(tradelocker),
        "autoshares" => run!(autoshares),
        "traderevolution" => run!(traderevolution),
        "slate" => run!(slate),
        other => {
            eprintln!("unknown vendor `{other}`\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}
