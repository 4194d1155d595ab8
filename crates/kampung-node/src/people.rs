//! The people of one node: accounts (argon2id password hashes), sessions
//! behind a browser cookie, tokens for programs, and the local credential of
//! the node's own machine. Everything lives in node-local tables (never
//! replicated): no central server knows anyone's password.
//!
//! Secrets are never stored or logged: a session cookie and a token are
//! random, and only their SHA-256 is kept; a password only as its argon2id
//! hash. Sign-in runs argon2 on a blocking thread, also for an unknown
//! account (against a fixed hash), so an answer takes as long for an unknown
//! name as for a wrong password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use kampung_store::local::LocalTable;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::actor::{Actor, PersonRole};
use crate::error::{ErrorCode, NodeError};

/// Failed sign-ins of one account before each further one waits longer.
pub const FREE_FAILURES: u32 = 3;
/// Failed sign-ins of one account after which it is locked until the operator unlocks it.
pub const LOCK_AFTER: u32 = 10;
/// Failed sign-ins from one address before it must wait.
pub const ADDRESS_FREE_FAILURES: u32 = 5;
/// The longest wait imposed between attempts.
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1000;
/// A session is re-saved after this much idle time at most (its last use is
/// kept in memory in between).
const SESSION_SAVE_EVERY_MS: i64 = 5 * 60 * 1000;
/// Longest login name, display name and token label.
pub const MAX_NAME: usize = 64;
/// Longest password accepted.
pub const MAX_PASSWORD: usize = 256;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Stable id (`u-` and 8 hex digits): what writes record.
    pub id: String,
    /// What the person types to sign in: 1-32 of `a-z 0-9 . _ -`.
    pub login: String,
    /// The name people read (e.g. "Bripka Made Suarta").
    pub name: String,
    pub role: PersonRole,
    /// argon2id, PHC string.
    hash: String,
    pub disabled: bool,
    /// Failed sign-ins since the last success.
    pub failures: u32,
    /// No sign-in before this (unix ms).
    pub wait_until_ms: i64,
    /// Locked after repeated failures: the operator unlocks.
    pub locked: bool,
    pub created_ms: i64,
    /// `id` or `en`; `None`: the browser's choice.
    pub language: Option<String>,
}

/// One token for a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// `t-` and 8 hex digits.
    pub id: String,
    pub label: String,
    pub role: PersonRole,
    /// SHA-256 of the secret, hex.
    hash: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked: bool,
}

/// A signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    login: String,
    created_ms: i64,
    last_seen_ms: i64,
    /// The token its forms carry (against cross-site posts).
    csrf: String,
}

/// What signing in gives: the cookie value (shown once, never stored) and the person.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub cookie: String,
    pub csrf: String,
    pub actor: Actor,
}

/// A session found from its cookie.
#[derive(Debug, Clone)]
pub struct SessionActor {
    pub actor: Actor,
    pub csrf: String,
    pub language: Option<String>,
}

/// The people of a node.
#[derive(Debug, Clone)]
pub struct People(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    accounts: LocalTable,
    sessions: LocalTable,
    tokens: LocalTable,
    /// SHA-256 of the local credential.
    local: [u8; 32],
    /// Sessions by SHA-256 of their cookie, with when each was last saved.
    session_cache: RwLock<HashMap<[u8; 32], (Session, i64)>>,
    /// Tokens by id.
    token_cache: RwLock<HashMap<String, TokenInfo>>,
    /// Failed sign-ins per client address: (count, no attempt before).
    addresses: Mutex<HashMap<IpAddr, (u32, i64)>>,
    idle_ms: i64,
    /// A hash verified for unknown accounts, so they take as long as known ones.
    dummy_hash: String,
}

fn sha(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Lowercase hex; on the path of every request with a token, so without
/// an allocation per byte.
fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

fn random_hex(bytes: usize) -> String {
    hex(&(0..bytes)
        .map(|_| rand::random::<u8>())
        .collect::<Vec<u8>>())
}

/// Equal without an early exit (a secret's hash compared with a stored one).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hash_password(password: &str) -> Result<String, NodeError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| NodeError::store(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| NodeError::store(format!("password hash: {e}")))
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A one-time password: 12 letters and digits people can read aloud
/// (no 0/O, 1/l/I).
fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..12)
        .map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char)
        .collect()
}

/// A login name: 1-32 of `a-z 0-9 . _ -`.
pub fn check_login(login: &str) -> Result<(), NodeError> {
    let ok = !login.is_empty()
        && login.len() <= 32
        && login.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(NodeError::field(
            ErrorCode::InvalidBody,
            "login",
            format!("'{login}' is not a login name: use 1-32 lowercase letters, digits, '.', '_' or '-', e.g. made.suarta"),
        ))
    }
}

/// A name people read: not empty, no control characters, at most [`MAX_NAME`].
pub fn check_name(field: &str, name: &str) -> Result<(), NodeError> {
    let n = name.trim().chars().count();
    if n == 0 || n > MAX_NAME || name.chars().any(char::is_control) {
        return Err(NodeError::field(
            ErrorCode::InvalidBody,
            field,
            format!("must be 1-{MAX_NAME} characters, without line breaks or control characters"),
        ));
    }
    Ok(())
}

/// Milliseconds to wait after `failures` failed attempts, `free` of them free.
fn delay_ms(failures: u32, free: u32) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(20);
    (1000i64 << doublings).min(MAX_DELAY_MS)
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, NodeError> {
    serde_json::from_slice(bytes).map_err(|e| NodeError::store(format!("a damaged record: {e}")))
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Why a sign-in failed, as the person is told: never whether the name exists.
fn wrong() -> NodeError {
    NodeError::new(
        ErrorCode::WrongCredentials,
        "the user name or the password is wrong",
    )
}

impl People {
    /// The people kept in `accounts`, `sessions` and `tokens`; the local
    /// credential `local_secret`; sessions end after `idle_ms` unused.
    pub fn open(
        accounts: LocalTable,
        sessions: LocalTable,
        tokens: LocalTable,
        local_secret: &str,
        idle_ms: i64,
    ) -> Result<People, NodeError> {
        let mut token_cache = HashMap::new();
        for (_, v) in tokens.scan_prefix(b"")? {
            let t: TokenInfo = decode(&v)?;
            token_cache.insert(t.id.clone(), t);
        }
        let mut session_cache = HashMap::new();
        for (k, v) in sessions.scan_prefix(b"")? {
            if let (Ok(key), Ok(s)) = (<[u8; 32]>::try_from(k.as_slice()), decode::<Session>(&v)) {
                let saved = s.last_seen_ms;
                session_cache.insert(key, (s, saved));
            }
        }
        Ok(People(Arc::new(Inner {
            accounts,
            sessions,
            tokens,
            local: sha(local_secret),
            session_cache: RwLock::new(session_cache),
            token_cache: RwLock::new(token_cache),
            addresses: Mutex::default(),
            idle_ms,
            dummy_hash: hash_password("no such account")?,
        })))
    }

    /// People in memory, with a random local credential (tests).
    pub fn memory(idle_ms: i64) -> Result<(People, String), NodeError> {
        let secret = format!("kl_{}", random_hex(32));
        let p = People::open(
            LocalTable::memory(),
            LocalTable::memory(),
            LocalTable::memory(),
            &secret,
            idle_ms,
        )?;
        Ok((p, secret))
    }

    pub fn account(&self, login: &str) -> Result<Option<Account>, NodeError> {
        self.0
            .accounts
            .get(login.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    fn save(&self, a: &Account) -> Result<(), NodeError> {
        self.0.accounts.insert(a.login.as_bytes(), &encode(a))?;
        Ok(self.0.accounts.flush()?)
    }

    /// Every account, by login name.
    pub fn accounts(&self) -> Result<Vec<Account>, NodeError> {
        self.0
            .accounts
            .scan_prefix(b"")?
            .into_iter()
            .map(|(_, v)| decode(&v))
            .collect()
    }

    /// Add an account; its first password, to be given to the person once.
    pub fn add(
        &self,
        login: &str,
        name: &str,
        role: PersonRole,
        now_ms: i64,
    ) -> Result<(Account, String), NodeError> {
        check_login(login)?;
        check_name("name", name)?;
        if self.account(login)?.is_some() {
            return Err(NodeError::field(
                ErrorCode::Conflict,
                "login",
                format!("there is already an account '{login}' on this node"),
            ));
        }
        let password = new_password();
        let account = Account {
            id: format!("u-{}", random_hex(4)),
            login: login.to_string(),
            name: name.trim().to_string(),
            role,
            hash: hash_password(&password)?,
            disabled: false,
            failures: 0,
            wait_until_ms: 0,
            locked: false,
            created_ms: now_ms,
            language: None,
        };
        self.save(&account)?;
        Ok((account, password))
    }

    fn existing(&self, login: &str) -> Result<Account, NodeError> {
        self.account(login)?.ok_or_else(|| {
            NodeError::new(
                ErrorCode::NoSuchAccount,
                format!(
                    "there is no account '{login}' on this node (`kampung user list` shows them)"
                ),
            )
        })
    }

    /// Disable (or enable again) an account; a disabled account's sessions end.
    pub fn set_disabled(&self, login: &str, disabled: bool) -> Result<Account, NodeError> {
        let mut a = self.existing(login)?;
        a.disabled = disabled;
        self.save(&a)?;
        if disabled {
            self.end_sessions_of(login)?;
        }
        Ok(a)
    }

    /// A new one-time password (the old one stops working, the account is
    /// unlocked, its sessions end).
    pub fn reset(&self, login: &str) -> Result<(Account, String), NodeError> {
        let mut a = self.existing(login)?;
        let password = new_password();
        a.hash = hash_password(&password)?;
        a.failures = 0;
        a.wait_until_ms = 0;
        a.locked = false;
        self.save(&a)?;
        self.end_sessions_of(login)?;
        Ok((a, password))
    }

    /// Unlock an account locked after failed sign-ins (its password stays).
    pub fn unlock(&self, login: &str) -> Result<Account, NodeError> {
        let mut a = self.existing(login)?;
        a.failures = 0;
        a.wait_until_ms = 0;
        a.locked = false;
        self.save(&a)?;
        Ok(a)
    }

    /// A person changes their own password (after signing in with the old one).
    pub fn change_password(&self, login: &str, new: &str) -> Result<(), NodeError> {
        let n = new.chars().count();
        if !(10..=MAX_PASSWORD).contains(&n) {
            return Err(NodeError::field(
                ErrorCode::InvalidBody,
                "password",
                format!("must be 10-{MAX_PASSWORD} characters long"),
            ));
        }
        let mut a = self.existing(login)?;
        a.hash = hash_password(new)?;
        self.save(&a)
    }

    /// Set the language of an account's pages (`id` or `en`).
    pub fn set_language(&self, login: &str, language: &str) -> Result<(), NodeError> {
        if !matches!(language, "id" | "en") {
            return Err(NodeError::field(
                ErrorCode::InvalidBody,
                "language",
                "use id or en",
            ));
        }
        let mut a = self.existing(login)?;
        a.language = Some(language.to_string());
        self.save(&a)
    }

    fn end_sessions_of(&self, login: &str) -> Result<(), NodeError> {
        let mut cache = self
            .0
            .session_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ended: Vec<[u8; 32]> = cache
            .iter()
            .filter(|(_, (s, _))| s.login == login)
            .map(|(k, _)| *k)
            .collect();
        for k in ended {
            cache.remove(&k);
            self.0.sessions.remove(&k)?;
        }
        Ok(self.0.sessions.flush()?)
    }

    /// Check the client address may try now; `too_many_attempts` with the wait.
    fn address_gate(&self, client: IpAddr, now_ms: i64) -> Result<(), NodeError> {
        let addresses = self
            .0
            .addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match addresses.get(&client) {
            Some((_, until)) if *until > now_ms => Err(NodeError::new(
                ErrorCode::TooManyAttempts,
                format!(
                    "too many failed sign-ins from this device: wait {} s and try again",
                    (until - now_ms + 999) / 1000
                ),
            )),
            _ => Ok(()),
        }
    }

    fn address_failed(&self, client: IpAddr, now_ms: i64) {
        let mut addresses = self
            .0
            .addresses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Bounded: an attacker rotating addresses cannot grow this without limit.
        if addresses.len() > 10_000 {
            addresses.retain(|_, (_, until)| *until > now_ms);
        }
        let entry = addresses.entry(client).or_insert((0, 0));
        entry.0 += 1;
        entry.1 = now_ms + delay_ms(entry.0, ADDRESS_FREE_FAILURES);
    }

    /// Sign a person in with their login name and password, from `client`.
    /// On success, a new session: its cookie value (given to the browser
    /// once; only its hash is kept).
    pub async fn sign_in(
        &self,
        login: &str,
        password: &str,
        client: IpAddr,
        now_ms: i64,
    ) -> Result<SignedIn, NodeError> {
        if login.len() > 64 || password.len() > MAX_PASSWORD {
            return Err(wrong());
        }
        self.address_gate(client, now_ms)?;
        let account = self.account(login)?;
        // The hash check runs whatever the account: same work, same time.
        let hash = account
            .as_ref()
            .map_or_else(|| self.0.dummy_hash.clone(), |a| a.hash.clone());
        let password = password.to_string();
        let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
            .await
            .unwrap_or(false);
        let Some(mut account) = account else {
            self.address_failed(client, now_ms);
            return Err(wrong());
        };
        if account.locked {
            return Err(NodeError::new(
                ErrorCode::AccountLocked,
                "this account is locked after too many failed sign-ins: ask the node's operator to unlock it",
            ));
        }
        if account.wait_until_ms > now_ms {
            return Err(NodeError::new(
                ErrorCode::TooManyAttempts,
                format!(
                    "too many failed sign-ins for this account: wait {} s and try again",
                    (account.wait_until_ms - now_ms + 999) / 1000
                ),
            ));
        }
        if !matches || account.disabled {
            self.address_failed(client, now_ms);
            if !matches {
                account.failures += 1;
                account.wait_until_ms = now_ms + delay_ms(account.failures, FREE_FAILURES);
                account.locked = account.failures >= LOCK_AFTER;
                self.save(&account)?;
                if account.locked {
                    tracing::warn!(login = %account.login, "account locked after repeated failed sign-ins");
                }
            }
            return Err(wrong());
        }
        account.failures = 0;
        account.wait_until_ms = 0;
        self.save(&account)?;
        let cookie = format!("ks_{}", random_hex(32));
        let session = Session {
            login: account.login.clone(),
            created_ms: now_ms,
            last_seen_ms: now_ms,
            csrf: random_hex(16),
        };
        let key = sha(&cookie);
        self.0.sessions.insert(&key, &encode(&session))?;
        self.0.sessions.flush()?;
        let csrf = session.csrf.clone();
        self.0
            .session_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, (session, now_ms));
        tracing::info!(login = %account.login, role = %account.role, "signed in");
        Ok(SignedIn {
            cookie,
            csrf,
            actor: person(&account),
        })
    }

    /// End a session (sign-out); its cookie no longer signs anyone in.
    pub fn sign_out(&self, cookie: &str) -> Result<(), NodeError> {
        let key = sha(cookie);
        self.0
            .session_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key);
        self.0.sessions.remove(&key)?;
        Ok(self.0.sessions.flush()?)
    }

    /// The person a session cookie signs in, if the session is known, not
    /// idle too long, and its account enabled.
    pub fn session(&self, cookie: &str, now_ms: i64) -> Option<SessionActor> {
        let key = sha(cookie);
        let (login, csrf, save) = {
            let mut cache = self
                .0
                .session_cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (s, saved) = cache.get_mut(&key)?;
            if now_ms - s.last_seen_ms > self.0.idle_ms {
                let _ = self.0.sessions.remove(&key);
                cache.remove(&key);
                return None;
            }
            s.last_seen_ms = now_ms;
            let save = (now_ms - *saved > SESSION_SAVE_EVERY_MS).then(|| {
                *saved = now_ms;
                s.clone()
            });
            (s.login.clone(), s.csrf.clone(), save)
        };
        if let Some(s) = save {
            let _ = self.0.sessions.insert(&key, &encode(&s));
        }
        let account = self.account(&login).ok()??;
        if account.disabled {
            return None;
        }
        Some(SessionActor {
            language: account.language.clone(),
            actor: person(&account),
            csrf,
        })
    }

    /// Create a token for a program; its secret, to be shown once.
    pub fn create_token(
        &self,
        label: &str,
        role: PersonRole,
        expires_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(TokenInfo, String), NodeError> {
        check_name("label", label)?;
        let id = format!("t-{}", random_hex(4));
        let secret = random_hex(32);
        let info = TokenInfo {
            id: id.clone(),
            label: label.trim().to_string(),
            role,
            hash: hex(&sha(&secret)),
            created_ms: now_ms,
            expires_ms,
            revoked: false,
        };
        self.0.tokens.insert(id.as_bytes(), &encode(&info))?;
        self.0.tokens.flush()?;
        self.0
            .token_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.clone(), info.clone());
        Ok((info, format!("kt_{id}_{secret}")))
    }

    /// Every token (never their secrets).
    pub fn tokens(&self) -> Vec<TokenInfo> {
        let mut all: Vec<TokenInfo> = self
            .0
            .token_cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo, NodeError> {
        let mut cache = self
            .0
            .token_cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = cache.get_mut(id).ok_or_else(|| {
            NodeError::new(
                ErrorCode::NoSuchToken,
                format!("there is no token {id} on this node (`kampung token list` shows them)"),
            )
        })?;
        t.revoked = true;
        self.0.tokens.insert(id.as_bytes(), &encode(t))?;
        self.0.tokens.flush()?;
        Ok(t.clone())
    }

    /// Who a bearer credential is: the local credential, or a token in
    /// force. `None` for anything else (unknown, revoked, expired, malformed).
    pub fn bearer(&self, credential: &str, now_ms: i64) -> Option<Actor> {
        if credential.starts_with("kl_") {
            return same(&sha(credential), &self.0.local).then_some(Actor::Local);
        }
        let rest = credential.strip_prefix("kt_")?;
        let (id, secret) = rest.split_once('_')?;
        let cache = self
            .0
            .token_cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = cache.get(id)?;
        let ok = !t.revoked
            && t.expires_ms.is_none_or(|e| e > now_ms)
            && same(hex(&sha(secret)).as_bytes(), t.hash.as_bytes());
        ok.then(|| Actor::Program {
            id: t.id.clone(),
            label: t.label.clone(),
            role: t.role,
        })
    }
}

fn person(a: &Account) -> Actor {
    Actor::Person {
        id: a.id.clone(),
        login: a.login.clone(),
        name: a.name.clone(),
        role: a.role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: i64 = 1_777_600_000_000;

    fn ip() -> IpAddr {
        "192.168.1.20".parse().unwrap()
    }

    #[tokio::test]
    async fn sign_in_out_and_the_session_ends() {
        let (p, local) = People::memory(12 * 3600 * 1000).unwrap();
        let (a, password) = p
            .add("made", "Bripka Made", PersonRole::Officer, AT)
            .unwrap();
        assert!(a.id.starts_with("u-"));
        let s = p.sign_in("made", &password, ip(), AT).await.unwrap();
        assert!(matches!(&s.actor, Actor::Person { login, .. } if login == "made"));
        assert!(p.session(&s.cookie, AT + 1000).is_some());
        // Idle longer than a shift: gone.
        assert!(p.session(&s.cookie, AT + 13 * 3600 * 1000).is_none());
        let s = p.sign_in("made", &password, ip(), AT).await.unwrap();
        p.sign_out(&s.cookie).unwrap();
        assert!(
            p.session(&s.cookie, AT + 1).is_none(),
            "replayed after sign-out"
        );
        assert_eq!(p.bearer(&local, AT), Some(Actor::Local));
        assert_eq!(p.bearer("kl_wrong", AT), None);
    }

    #[tokio::test]
    async fn guessing_locks_the_account_and_slows_the_address() {
        let (p, _) = People::memory(3_600_000).unwrap();
        let (_, password) = p.add("sri", "Sri Wahyuni", PersonRole::Clerk, AT).unwrap();
        let mut now = AT;
        let mut locked = false;
        for i in 0..1000 {
            let other: IpAddr = format!("10.0.{}.{}", i / 250, i % 250 + 1).parse().unwrap();
            match p.sign_in("sri", &format!("guess{i}"), other, now).await {
                Err(e) if e.code == ErrorCode::AccountLocked => {
                    locked = true;
                    break;
                }
                Err(e) => assert!(
                    matches!(
                        e.code,
                        ErrorCode::WrongCredentials | ErrorCode::TooManyAttempts
                    ),
                    "{e}"
                ),
                Ok(_) => panic!("a guess signed in"),
            }
            now += MAX_DELAY_MS;
        }
        assert!(locked, "the account locks");
        let e = p.sign_in("sri", &password, ip(), now).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::AccountLocked, "even the right password");
        p.unlock("sri").unwrap();
        assert!(p.sign_in("sri", &password, ip(), now).await.is_ok());

        // One address guessing many names waits longer and longer.
        let mut waited = false;
        for i in 0..20 {
            if let Err(e) = p.sign_in(&format!("nobody{i}"), "x", ip(), now).await {
                waited |= e.code == ErrorCode::TooManyAttempts;
            }
        }
        assert!(waited);
    }

    #[tokio::test]
    async fn unknown_names_and_wrong_passwords_answer_alike() {
        let (p, _) = People::memory(3_600_000).unwrap();
        p.add("ayu", "Ayu", PersonRole::Facility, AT).unwrap();
        let unknown = p.sign_in("nobody", "secret", ip(), AT).await.unwrap_err();
        let wrong = p.sign_in("ayu", "secret", ip(), AT).await.unwrap_err();
        assert_eq!(unknown, wrong);
        let disabled = p.set_disabled("ayu", true).unwrap();
        assert!(disabled.disabled);
    }

    #[test]
    fn tokens_expire_and_are_revoked() {
        let (p, _) = People::memory(3_600_000).unwrap();
        let (info, secret) = p
            .create_token("bench", PersonRole::Officer, Some(AT + 1000), AT)
            .unwrap();
        assert!(matches!(
            p.bearer(&secret, AT),
            Some(Actor::Program {
                role: PersonRole::Officer,
                ..
            })
        ));
        assert_eq!(p.bearer(&secret, AT + 1000), None, "expired");
        let (_, other) = p
            .create_token("sync", PersonRole::Auditor, None, AT)
            .unwrap();
        p.revoke_token(&info.id).unwrap();
        assert_eq!(p.bearer(&secret, AT), None);
        assert!(p.bearer(&other, AT).is_some());
        let forged = format!("{}x", &other[..other.len() - 1]);
        assert_eq!(p.bearer(&forged, AT), None);
        assert!(
            !format!("{:?}", p.tokens()).contains(&other[11..]),
            "no secret listed"
        );
    }
}

/// An account as shown to the operator (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub id: String,
    pub login: String,
    pub name: String,
    pub role: PersonRole,
    pub disabled: bool,
    pub locked: bool,
    pub failures: u32,
    pub created_ms: i64,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id.clone(),
            login: a.login.clone(),
            name: a.name.clone(),
            role: a.role,
            disabled: a.disabled,
            locked: a.locked,
            failures: a.failures,
            created_ms: a.created_ms,
        }
    }
}

/// What the operator may do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    Disable,
    Enable,
    /// A new one-time password (and unlocked).
    Reset,
    Unlock,
}

impl crate::Node {
    /// Add a person to this node (the operator); their first password, to
    /// be given to them once. Refused if the role does not fit the node.
    pub fn add_person(
        &self,
        by: &Actor,
        login: &str,
        name: &str,
        role: PersonRole,
    ) -> Result<(AccountView, String), NodeError> {
        by.require(crate::Permission::ManagePeople, "manage this node's people")?;
        if !role.allowed_on(self.role()) {
            return Err(NodeError::field(
                ErrorCode::InvalidBody,
                "role",
                format!(
                    "{role} accounts do not exist on a {} node: officers work at checkpoints, clerks at village offices, facility staff at facilities or villages; auditors and operators anywhere",
                    self.role().kind()
                ),
            ));
        }
        let (a, password) = self.people().add(login, name, role, self.now_ms())?;
        tracing::info!(login = %a.login, %role, by = %by.describe(), "account added");
        Ok(((&a).into(), password))
    }

    /// Every account of this node.
    pub fn list_people(&self, by: &Actor) -> Result<Vec<AccountView>, NodeError> {
        by.require(crate::Permission::ManagePeople, "manage this node's people")?;
        Ok(self.people().accounts()?.iter().map(Into::into).collect())
    }

    /// Disable, enable, reset or unlock an account; a reset returns the new
    /// one-time password.
    pub fn change_person(
        &self,
        by: &Actor,
        login: &str,
        change: AccountChange,
    ) -> Result<(AccountView, Option<String>), NodeError> {
        by.require(crate::Permission::ManagePeople, "manage this node's people")?;
        let p = self.people();
        let (a, password) = match change {
            AccountChange::Disable => (p.set_disabled(login, true)?, None),
            AccountChange::Enable => (p.set_disabled(login, false)?, None),
            AccountChange::Reset => {
                let (a, pw) = p.reset(login)?;
                (a, Some(pw))
            }
            AccountChange::Unlock => (p.unlock(login)?, None),
        };
        tracing::info!(login = %a.login, ?change, by = %by.describe(), "account changed");
        Ok(((&a).into(), password))
    }

    /// A token for a program (the operator); its secret, shown once.
    pub fn create_token(
        &self,
        by: &Actor,
        label: &str,
        role: PersonRole,
        expires_ms: Option<i64>,
    ) -> Result<(TokenInfo, String), NodeError> {
        by.require(crate::Permission::ManagePeople, "manage this node's tokens")?;
        if expires_ms.is_some_and(|e| e <= self.now_ms()) {
            return Err(NodeError::field(
                ErrorCode::InvalidBody,
                "expires",
                "is not in the future",
            ));
        }
        let made = self
            .people()
            .create_token(label, role, expires_ms, self.now_ms())?;
        tracing::info!(token = %made.0.id, %role, by = %by.describe(), "token created");
        Ok(made)
    }

    pub fn list_tokens(&self, by: &Actor) -> Result<Vec<TokenInfo>, NodeError> {
        by.require(crate::Permission::ManagePeople, "manage this node's tokens")?;
        Ok(self.people().tokens())
    }

    pub fn revoke_token(&self, by: &Actor, id: &str) -> Result<TokenInfo, NodeError> {
        by.require(crate::Permission::ManagePeople, "manage this node's tokens")?;
        let t = self.people().revoke_token(id)?;
        tracing::info!(token = %t.id, by = %by.describe(), "token revoked");
        Ok(t)
    }
}
