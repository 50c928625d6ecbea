//! `brokerkit-mock <vendor> [--port N] [--fault RULE]...`: serves one vendor's sandbox on
//! 127.0.0.1 until Ctrl-C or SIGTERM, for tools written in other languages (or schemathesis).
//!
//! The users and credentials it prints (in `--help` and on start) are read from each sandbox's
//! own default `Config`, the one it serves, so they cannot drift from what it accepts.

use brokerkit_mock::{autoshares, slate, tradelocker, traderevolution, Fault, Faults};
use clap::{Args, Parser, Subcommand};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "brokerkit-mock",
    version,
    about = "Loopback sandboxes of the brokerkit vendors' APIs, for tests and tools in any language.",
    long_about = "Serves one vendor's stateful sandbox on 127.0.0.1 until Ctrl-C or SIGTERM. \
                  On start it prints `<vendor> sandbox listening on <base URL>` as its first \
                  line, then the users and credentials it accepts.",
    after_help = overview(),
    after_long_help = overview(),
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    vendor: Vendor,
}

#[derive(Subcommand, Debug)]
enum Vendor {
    /// TradeLocker REST API (base path /backend-api).
    #[command(after_help = vendor_help(Name::Tradelocker))]
    Tradelocker(Serve),
    /// AutoShares / ETNA Trader API (base path /api).
    #[command(after_help = vendor_help(Name::Autoshares))]
    Autoshares(Serve),
    /// TraderEvolution BackOffice REST API (base path /proftrading/rest).
    #[command(after_help = vendor_help(Name::Traderevolution))]
    Traderevolution(Serve),
    /// Slate Labs broker API (base path /, the URL root).
    #[command(after_help = vendor_help(Name::Slate))]
    Slate(Serve),
}

#[derive(Args, Debug)]
struct Serve {
    /// Port on 127.0.0.1 to listen on (0 picks a free one; the first line printed names it).
    #[arg(long, default_value_t = 0)]
    port: u16,

    /// Arm a fault on a route, relative to the base path: `[METHOD ]PATH=KIND`, repeatable.
    /// A trailing `*` in PATH matches a prefix. KIND is one of: `latency:<ms>`,
    /// `rate-limited:<retry-after secs>` (429), `server-error:<5xx>`, `drop` (cut the body),
    /// `execute-then-drop` (act, then cut the answer), `malformed` (200, not JSON),
    /// `respond:<status>:<json body>`. With a METHOD the fault applies once.
    #[arg(long = "fault", value_name = "RULE", value_parser = parse_fault)]
    faults: Vec<FaultRule>,
}

#[derive(Clone, Debug)]
struct FaultRule {
    /// As given on the command line.
    rule: String,
    method: Option<String>,
    path: String,
    fault: Fault,
}

fn parse_fault(rule: &str) -> Result<FaultRule, String> {
    let (route, kind) = rule
        .split_once('=')
        .ok_or_else(|| format!("`{rule}`: expected `[METHOD ]PATH=KIND`"))?;
    let (method, path) = match route.trim().split_once(' ') {
        Some((m, p)) => (Some(m.trim().to_ascii_uppercase()), p.trim()),
        None => (None, route.trim()),
    };
    if !path.starts_with('/') {
        return Err(format!("`{path}`: a path starts with `/`"));
    }
    let (name, arg) = match kind.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (kind, None),
    };
    let number = |what: &str| -> Result<u64, String> {
        arg.ok_or_else(|| format!("`{name}` needs {what}"))?
            .parse::<u64>()
            .map_err(|_| format!("`{name}`: {what} must be a whole number"))
    };
    let fault = match name {
        "latency" => Fault::Latency(Duration::from_millis(number("milliseconds")?)),
        "rate-limited" => Fault::RateLimited {
            retry_after_secs: number("the Retry-After seconds")?,
            body: r#"{"error":"rate limited"}"#.into(),
        },
        "server-error" => {
            let status = number("a status")?;
            if !(500..600).contains(&status) {
                return Err(format!("`server-error:{status}`: the status must be 5xx"));
            }
            Fault::ServerError(status as u16)
        }
        "drop" => Fault::Drop,
        "execute-then-drop" => Fault::ExecuteThenDrop,
        "malformed" => Fault::Malformed,
        "respond" => {
            let (status, body) = arg
                .and_then(|a| a.split_once(':'))
                .ok_or("`respond` needs `<status>:<json body>`")?;
            let status: u16 = status
                .parse()
                .ok()
                .filter(|s| (100..600).contains(s))
                .ok_or_else(|| format!("`respond`: `{status}` is not an HTTP status"))?;
            Fault::Respond {
                status,
                body: body.into(),
            }
        }
        other => return Err(format!("unknown fault kind `{other}`")),
    };
    Ok(FaultRule {
        rule: rule.into(),
        method,
        path: path.into(),
        fault,
    })
}

fn arm(faults: &Faults, rules: &[FaultRule]) {
    for r in rules {
        match &r.method {
            Some(m) => faults.inject_times(m, &r.path, r.fault.clone(), 1),
            None => faults.inject(&r.path, r.fault.clone()),
        }
    }
}

#[derive(Clone, Copy)]
enum Name {
    Tradelocker,
    Autoshares,
    Traderevolution,
    Slate,
}

const ALL: [Name; 4] = [
    Name::Tradelocker,
    Name::Autoshares,
    Name::Traderevolution,
    Name::Slate,
];

impl Name {
    fn id(self) -> &'static str {
        match self {
            Name::Tradelocker => "tradelocker",
            Name::Autoshares => "autoshares",
            Name::Traderevolution => "traderevolution",
            Name::Slate => "slate",
        }
    }

    fn base_path(self) -> &'static str {
        match self {
            Name::Tradelocker => tradelocker::PREFIX,
            Name::Autoshares => autoshares::PREFIX,
            Name::Traderevolution => traderevolution::PREFIX,
            Name::Slate => "/",
        }
    }

    /// Two fault rules worth trying, for the help text: a slow read, a failing write.
    fn example_faults(self) -> [&'static str; 2] {
        match self {
            Name::Tradelocker => [
                "/trade/quotes=latency:2000",
                "POST /trade/accounts/*=server-error:503",
            ],
            Name::Autoshares => [
                "/v1.0/accounts/*=latency:2000",
                "POST /v1.0/accounts/*=execute-then-drop",
            ],
            Name::Traderevolution => ["/accounts*=latency:2000", "POST /auth/token=rate-limited:5"],
            Name::Slate => [
                "/accounts*=latency:2000",
                "POST /customers/login=server-error:503",
            ],
        }
    }

    /// The users and credentials of the sandbox's default config, one per line.
    fn credentials(self) -> Vec<String> {
        match self {
            Name::Tradelocker => {
                let c = tradelocker::Config::default();
                let mut lines: Vec<String> = c
                    .users
                    .iter()
                    .map(|u| {
                        format!(
                            "user: email {}  password {}  server {}",
                            u.email,
                            q(&u.password),
                            u.server
                        )
                    })
                    .collect();
                lines.push(
                    "developer key: none needed (the `developer-api-key` header is optional and not checked)"
                        .into(),
                );
                lines.push(format!(
                    "accounts: 2 per user (accNum 1 and 2), balance {} each",
                    c.balance
                ));
                lines
            }
            Name::Autoshares => {
                let c = autoshares::Config::default();
                let mut lines = vec![format!("app key (Et-App-Key header): {}", c.app_key)];
                for u in &c.users {
                    let factor = match &u.second_factor {
                        None => "no second factor".to_string(),
                        Some(autoshares::SecondFactor::VerificationCode(code)) => {
                            format!("2FA e-mailed code {code}")
                        }
                        Some(autoshares::SecondFactor::Pin(pin)) => format!("2FA PIN {pin}"),
                    };
                    let accounts: Vec<String> = u
                        .accounts
                        .iter()
                        .map(|(id, cash)| format!("{id} (cash {cash} USD)"))
                        .collect();
                    lines.push(format!(
                        "user: login {}  password {}  email {}  {factor}  accounts {}",
                        u.login,
                        q(&u.password),
                        u.email,
                        accounts.join(", ")
                    ));
                }
                lines
            }
            Name::Traderevolution => {
                let c = traderevolution::Config::default();
                let mut lines: Vec<String> = c
                    .users
                    .iter()
                    .map(|u| {
                        let access = if u.api_access {
                            ""
                        } else {
                            "  (no API access: login fails with 2.0.2.4)"
                        };
                        format!(
                            "user: login {}  password {}  email {}{access}",
                            u.login,
                            q(&u.password),
                            u.email
                        )
                    })
                    .collect();
                for a in &c.accounts {
                    lines.push(format!(
                        "account: id {}  name {}  owner {}  balance {}",
                        a.id, a.name, a.owner_login, a.balance
                    ));
                }
                lines
            }
            Name::Slate => {
                let c = slate::Config::default();
                let mut lines = Vec::new();
                for u in &c.customers {
                    let accounts: Vec<String> = u
                        .accounts
                        .iter()
                        .map(|a| format!("{} ({} {})", a.login, a.balance, a.currency))
                        .collect();
                    lines.push(format!(
                        "customer: email {}  password {}  accounts {}",
                        u.email,
                        q(&u.password),
                        accounts.join(", ")
                    ));
                }
                for s in &c.staff {
                    let totp = match &s.totp_code {
                        Some(code) => format!("  2FA TOTP code {code}"),
                        None => String::new(),
                    };
                    lines.push(format!(
                        "staff: email {}  password {}{totp}",
                        s.email,
                        q(&s.password)
                    ));
                }
                lines
            }
        }
    }
}

/// A value as the help shows it: quoted when it holds a space (`"correct horse"`).
fn q(value: &str) -> String {
    if value.contains(char::is_whitespace) {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

/// `--help`: every vendor, its base path and its users.
fn overview() -> String {
    let mut out = String::from("Vendors, their base paths and the sandboxes' users:\n");
    for v in ALL {
        let _ = writeln!(out, "\n  {:<16} base path {}", v.id(), v.base_path());
        for line in v.credentials() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out.push_str(
        "\nExample: brokerkit-mock tradelocker --port 8080\n\
         `brokerkit-mock <VENDOR> --help` lists the options and faults of one sandbox.",
    );
    out
}

/// `<vendor> --help`: its base path, users and an example fault.
fn vendor_help(v: Name) -> String {
    let mut out = format!("Base path: {}\n\nUsers and credentials:\n", v.base_path());
    for line in v.credentials() {
        let _ = writeln!(out, "  {line}");
    }
    let [slow, failing] = v.example_faults();
    let _ = write!(
        out,
        "\nExample: brokerkit-mock {} --port 8080 --fault '{slow}' --fault '{failing}'",
        v.id()
    );
    out
}

/// Ctrl-C (SIGINT) and, on Unix, SIGTERM, listened for from creation on: a signal that arrives
/// right after the first line is printed still stops the sandbox cleanly.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the first one; names it.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "interrupt",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "interrupt"
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stop = match StopSignals::listen() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot listen for Ctrl-C or SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (name, serve) = match &cli.vendor {
        Vendor::Tradelocker(s) => (Name::Tradelocker, s),
        Vendor::Autoshares(s) => (Name::Autoshares, s),
        Vendor::Traderevolution(s) => (Name::Traderevolution, s),
        Vendor::Slate(s) => (Name::Slate, s),
    };
    macro_rules! start {
        ($module:ident) => {
            $module::serve_on(serve.port).await.map(|server| {
                arm(&server.faults, &serve.faults);
                (
                    server.base_url(),
                    Box::new(server) as Box<dyn std::any::Any>,
                )
            })
        };
    }
    let started = match name {
        Name::Tradelocker => start!(tradelocker),
        Name::Autoshares => start!(autoshares),
        Name::Traderevolution => start!(traderevolution),
        Name::Slate => start!(slate),
    };
    let (base_url, server) = match started {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "cannot start the {} sandbox on port {}: {e}",
                name.id(),
                serve.port
            );
            return ExitCode::FAILURE;
        }
    };
    // The first line is what scripts read: the base URL is its last word. A reader that
    // stops after it (closing the pipe) must not bring the sandbox down, so write errors
    // are ignored rather than panicking as `println!` would.
    let mut banner = format!("{} sandbox listening on {base_url}\n", name.id());
    for line in name.credentials() {
        banner.push_str(&format!("  {line}\n"));
    }
    for r in &serve.faults {
        banner.push_str(&format!("  fault armed: {}\n", r.rule));
    }
    banner.push_str("Ctrl-C or SIGTERM stops it.\n");
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    let why = stop.recv().await;
    drop(server);
    eprintln!("{} sandbox stopped ({why})", name.id());
    ExitCode::SUCCESS
}
