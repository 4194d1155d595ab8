//! `kampung user` and `kampung token`: this node's people and the tokens
//! of its programs (the operator's work; on the node's own machine). While
//! the node runs they go through its API with the local credential.

use std::path::Path;
use std::process::ExitCode;

use kampung_node::people::AccountChange;
use kampung_node::{Actor, PersonRole};
use serde_json::{json, Value};

use super::backend::Backend;

fn role(s: &str) -> Result<PersonRole, String> {
    s.parse()
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add a person; prints their first password once (give it to them).
    ///
    /// Example: kampung user add made.suarta --name "Bripka Made Suarta" --role officer
    #[command(
        after_help = "Example:\n  kampung user add made.suarta --name \"Bripka Made Suarta\" --role officer"
    )]
    Add {
        /// The login name: 1-32 of a-z 0-9 . _ -
        login: String,
        /// The name people read, e.g. "Bripka Made Suarta".
        #[arg(long)]
        name: String,
        /// officer (checkpoint), clerk (village), facility (facility or village), auditor, operator.
        #[arg(long, value_parser = role)]
        role: PersonRole,
    },
    /// List this node's people.
    #[command(after_help = "Example:\n  kampung user list")]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (its sessions end at once).
    #[command(after_help = "Example:\n  kampung user disable made.suarta")]
    Disable {
        /// The account's login name.
        login: String,
    },
    /// Enable a disabled account again.
    #[command(after_help = "Example:\n  kampung user enable made.suarta")]
    Enable {
        /// The account's login name.
        login: String,
    },
    /// Give an account a new one-time password (and unlock it).
    #[command(after_help = "Example:\n  kampung user reset made.suarta")]
    Reset {
        /// The account's login name.
        login: String,
    },
    /// Unlock an account locked after failed sign-ins (its password stays).
    #[command(after_help = "Example:\n  kampung user unlock made.suarta")]
    Unlock {
        /// The account's login name.
        login: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token for a program; prints it once.
    ///
    /// Example: kampung token create --label scanner-1 --role officer --expires 90
    #[command(
        after_help = "Example:\n  kampung token create --label \"gate scanner\" --role officer --expires 30"
    )]
    Create {
        /// What the token is for, e.g. "scanner at gate 2".
        #[arg(long)]
        label: String,
        /// The role the program acts as.
        #[arg(long, value_parser = role)]
        role: PersonRole,
        /// Days it stays valid (default: until revoked).
        #[arg(long, value_name = "DAYS")]
        expires: Option<u32>,
    },
    /// List the tokens (never their secrets).
    #[command(after_help = "Example:\n  kampung token list")]
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops working at once.
    #[command(after_help = "Example:\n  kampung token revoke t-d28cec48")]
    Revoke {
        /// The token's id, `t-...` (from `token list`).
        id: String,
    },
}

fn show_account(v: &Value) {
    println!(
        "{:<20} {:<10} {:<8} {}{}",
        v["login"].as_str().unwrap_or("?"),
        v["role"].as_str().unwrap_or("?"),
        v["id"].as_str().unwrap_or("?"),
        v["name"].as_str().unwrap_or(""),
        match (v["disabled"].as_bool(), v["locked"].as_bool()) {
            (Some(true), _) => "  (disabled)",
            (_, Some(true)) => "  (locked: `kampung user unlock`)",
            _ => "",
        }
    );
}

fn print_password(account: &Value, password: Option<&str>) {
    if let Some(p) = password {
        println!(
            "{} ({}): one-time password {p}",
            account["login"].as_str().unwrap_or("?"),
            account["role"].as_str().unwrap_or("?")
        );
        println!(
            "give it to the person; it is not shown again (`kampung user reset` makes a new one)"
        );
    }
}

fn change_of(c: &UserCommand) -> Option<(AccountChange, &'static str)> {
    Some(match c {
        UserCommand::Disable { .. } => (AccountChange::Disable, "disable"),
        UserCommand::Enable { .. } => (AccountChange::Enable, "enable"),
        UserCommand::Reset { .. } => (AccountChange::Reset, "reset"),
        UserCommand::Unlock { .. } => (AccountChange::Unlock, "unlock"),
        _ => return None,
    })
}

pub fn user(data: &Path, c: UserCommand) -> anyhow::Result<ExitCode> {
    let change = change_of(&c);
    let (_, backend) = Backend::open(data)?;
    let by = Actor::local();
    match c {
        UserCommand::Add { login, name, role } => {
            let (l, nm) = (login.clone(), name.clone());
            let (account, password) = match backend.local(|n| async move {
                let (a, p) = n.add_person(&by, &l, &nm, role)?;
                Ok((json!(a), p))
            }) {
                Some(r) => r?,
                None => {
                    let v: Value = backend.remote()?.post(
                        "/v1/users",
                        &json!({"login": login, "name": name, "role": role}),
                    )?;
                    let p = v["password"].as_str().unwrap_or_default().to_string();
                    (v["account"].clone(), p)
                }
            };
            print_password(&account, Some(&password));
        }
        UserCommand::List { json: as_json } => {
            let list: Value = match backend.local(|n| async move { Ok(json!(n.list_people(&by)?)) })
            {
                Some(r) => r?,
                None => backend.remote()?.get("/v1/users")?.unwrap_or_default(),
            };
            if as_json {
                super::print_json(&list)?;
            } else {
                for a in list.as_array().into_iter().flatten() {
                    show_account(a);
                }
            }
        }
        UserCommand::Disable { login }
        | UserCommand::Enable { login }
        | UserCommand::Reset { login }
        | UserCommand::Unlock { login } => {
            let Some((change, action)) = change else {
                anyhow::bail!("not a change of an account");
            };
            let login2 = login.clone();
            let v: Value = match backend.local(|n| async move {
                let (a, p) = n.change_person(&by, &login2, change)?;
                Ok(json!({"account": a, "password": p}))
            }) {
                Some(r) => r?,
                None => backend
                    .remote()?
                    .post(&format!("/v1/users/{login}/{action}"), &json!({}))?,
            };
            show_account(&v["account"]);
            print_password(&v["account"], v["password"].as_str());
        }
    }
    backend.close()?;
    Ok(ExitCode::SUCCESS)
}

pub fn token(data: &Path, c: TokenCommand) -> anyhow::Result<ExitCode> {
    let (_, backend) = Backend::open(data)?;
    let by = Actor::local();
    match c {
        TokenCommand::Create {
            label,
            role,
            expires,
        } => {
            let l = label.clone();
            let v: Value = match backend.local(|n| async move {
                let expires_ms = expires.map(|d| n.now_ms() + i64::from(d) * 86_400_000);
                let (info, token) = n.create_token(&by, &l, role, expires_ms)?;
                Ok(json!({"info": {"id": info.id, "label": info.label, "role": info.role}, "token": token}))
            }) {
                Some(r) => r?,
                None => backend.remote()?.post(
                    "/v1/tokens",
                    &json!({"label": label, "role": role, "expires_days": expires}),
                )?,
            };
            println!(
                "token {} ({}, {}): {}",
                v["info"]["id"].as_str().unwrap_or("?"),
                v["info"]["label"].as_str().unwrap_or("?"),
                v["info"]["role"].as_str().unwrap_or("?"),
                v["token"].as_str().unwrap_or("?")
            );
            println!("send it as `Authorization: Bearer TOKEN`; it is not shown again");
        }
        TokenCommand::List { json: as_json } => {
            let list: Value = match backend.local(|n| async move {
                Ok(n.list_tokens(&by)?
                    .into_iter()
                    .map(|t| json!({"id": t.id, "label": t.label, "role": t.role, "created_ms": t.created_ms, "expires_ms": t.expires_ms, "revoked": t.revoked}))
                    .collect::<Value>())
            }) {
                Some(r) => r?,
                None => backend.remote()?.get("/v1/tokens")?.unwrap_or_default(),
            };
            if as_json {
                super::print_json(&list)?;
            } else {
                for t in list.as_array().into_iter().flatten() {
                    println!(
                        "{:<12} {:<10} {}{}",
                        t["id"].as_str().unwrap_or("?"),
                        t["role"].as_str().unwrap_or("?"),
                        t["label"].as_str().unwrap_or(""),
                        if t["revoked"].as_bool() == Some(true) {
                            "  (revoked)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let id2 = id.clone();
            match backend.local(|n| async move { n.revoke_token(&by, &id2).map(|_| ()) }) {
                Some(r) => r?,
                None => {
                    let _: Value = backend
                        .remote()?
                        .post(&format!("/v1/tokens/{id}/revoke"), &json!({}))?;
                }
            }
            println!("token {id} revoked");
        }
    }
    backend.close()?;
    Ok(ExitCode::SUCCESS)
}
