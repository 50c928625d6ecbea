//! The `brokerkit-mock` binary as a tool in another language sees it: `--help`, the first line
//! it prints, a request to the URL it names, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_brokerkit-mock");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run brokerkit-mock");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_vendors_base_paths_and_every_credential() {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0, "{help}");
    for (vendor, base) in [
        ("tradelocker", brokerkit_mock::tradelocker::PREFIX),
        ("autoshares", brokerkit_mock::autoshares::PREFIX),
        ("traderevolution", brokerkit_mock::traderevolution::PREFIX),
        ("slate", "/"),
    ] {
        assert!(
            help.contains(&format!("{vendor:<16} base path {base}\n")),
            "{vendor} {base} missing:\n{help}"
        );
    }
    // Every credential the sandboxes accept, read from the configs they serve.
    let mut expected = Vec::new();
    for u in brokerkit_mock::tradelocker::Config::default().users {
        expected.extend([u.email, u.password, u.server]);
    }
    let autoshares = brokerkit_mock::autoshares::Config::default();
    expected.push(autoshares.app_key);
    for u in autoshares.users {
        expected.extend([u.login, u.password, u.email]);
        match u.second_factor {
            Some(brokerkit_mock::autoshares::SecondFactor::VerificationCode(c)) => {
                expected.push(format!("2FA e-mailed code {c}"))
            }
            Some(brokerkit_mock::autoshares::SecondFactor::Pin(p)) => {
                expected.push(format!("2FA PIN {p}"))
            }
            None => {}
        }
    }
    for u in brokerkit_mock::traderevolution::Config::default().users {
        expected.extend([format!("login {}", u.login), u.password]);
    }
    let slate = brokerkit_mock::slate::Config::default();
    for c in slate.customers {
        expected.extend([c.email, c.password]);
    }
    for s in slate.staff {
        expected.extend([s.email, s.password]);
        expected.extend(s.totp_code.map(|c| format!("2FA TOTP code {c}")));
    }
    assert!(expected.len() > 20);
    for e in expected {
        assert!(help.contains(&e), "`{e}` missing from --help:\n{help}");
    }
    assert!(help.contains("developer key"), "{help}");
    // A password with a space is quoted, so where it ends is clear.
    assert!(help.contains(r#"password "correct horse""#), "{help}");
}

#[test]
fn vendor_help_lists_options_and_faults() {
    let (code, help, _) = run(&["autoshares", "--help"]);
    assert_eq!(code, 0, "{help}");
    for needle in [
        "--port",
        "--fault",
        "latency:<ms>",
        "rate-limited",
        "server-error",
        "malformed",
        "Base path: /api",
        "845213",
    ] {
        assert!(help.contains(needle), "`{needle}` missing:\n{help}");
    }
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let (code, _, err) = run(&["tradelocker", "--fault", "/x=sometimes"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown fault kind `sometimes`"), "{err}");
    let (code, _, err) = run(&["nasdaq"]);
    assert_eq!(code, 2);
    assert!(err.contains("nasdaq"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn starts_prints_url_and_credentials_serves_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "tradelocker",
            "--port",
            "0",
            "--fault",
            "GET /trade/accounts=server-error:503",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn brokerkit-mock");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let base = first
        .trim_end()
        .strip_prefix("tradelocker sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:") && base.ends_with("/backend-api"));
    let mut rest = String::new();
    for _ in 0..4 {
        stdout.read_line(&mut rest).expect("credential lines");
    }
    assert!(rest.contains("email trader@example.com  password demo-password  server OSP-DEMO"));
    assert!(rest.contains("fault armed: GET /trade/accounts=server-error:503"));

    let http = brokerkit_runtime::tls::client_builder().build().unwrap();
    let login = http
        .post(format!("{base}/auth/jwt/token"))
        .json(&serde_json::json!({
            "email": "trader@example.com", "password": "demo-password", "server": "OSP-DEMO"
        }))
        .send()
        .await
        .expect("login request");
    assert!(login.status().is_success(), "{}", login.status());
    let body: serde_json::Value = login.json().await.expect("JSON");
    let token = body["accessToken"].as_str().expect("accessToken");
    let accounts = http
        .get(format!("{base}/trade/accounts"))
        .bearer_auth(token)
        .send()
        .await
        .expect("accounts request");
    assert_eq!(accounts.status(), 503, "the armed fault answers");
    let again = http
        .get(format!("{base}/auth/jwt/all-accounts"))
        .bearer_auth(token)
        .send()
        .await
        .expect("all-accounts request");
    assert_eq!(again.status(), 200, "only the armed route fails");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("brokerkit-mock did not stop within 5 s of SIGTERM");
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    assert!(
        err.contains("tradelocker sandbox stopped (SIGTERM)"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_it_cleanly_too() {
    let mut child = Command::new(BIN)
        .args(["slate"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn brokerkit-mock");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    assert!(
        first.starts_with("slate sandbox listening on http://127.0.0.1:"),
        "{first:?}"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slate sandbox stopped (interrupt)"), "{err}");
}

/// A caller that stops reading (`brokerkit-mock slate | head -1`) closes the pipe before the
/// banner is out: the sandbox keeps serving instead of panicking on the broken pipe.
#[cfg(unix)]
#[test]
fn a_closed_stdout_does_not_bring_it_down() {
    let mut child = Command::new(BIN)
        .args(["slate"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn brokerkit-mock");
    drop(child.stdout.take());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "the sandbox exited"
    );
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
}
