//! Local accounts: the demo logins and `lumen user add|set-password|list`.

use chrono::Utc;
use lumen_core::Role;
use lumen_core::model::{Organization, Origin, User, is_plausible_email, sources};

use crate::auth::passwords;
use crate::store::{Store, StoreError};

/// Why an account could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field given is not valid; what is wrong.
    #[error("{0}")]
    Invalid(String),
    #[error("a user with email {0} already exists (use `lumen user set-password`)")]
    Exists(String),
    #[error("no user with email {0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing the password failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Hashes a password on the blocking pool.
async fn hash(password: String) -> Result<String, AccountError> {
    let hashed = tokio::task::spawn_blocking(move || passwords::hash(&password))
        .await
        .map_err(anyhow::Error::from)??;
    Ok(hashed)
}

pub const DEMO_PASSWORD: &str = "demo-password";
pub const DEMO_ORGANIZATION: &str = "Demo Organisation";

/// The demo logins of PRODUCT §2.
pub const DEMO_LOGINS: [(&str, &str, &[Role]); 4] = [
    ("learner@demo.lumen.test", "Demo Learner", &[Role::Learner]),
    ("trainer@demo.lumen.test", "Demo Trainer", &[Role::Trainer]),
    ("admin@demo.lumen.test", "Demo Org Admin", &[Role::OrgAdmin]),
    (
        "multi@demo.lumen.test",
        "Demo Learner-Trainer",
        &[Role::Learner, Role::Trainer],
    ),
];

/// The organisation a named local or demo organisation is stored as.
fn organization(source: &str, name: &str) -> Organization {
    let origin = Origin::new(source, name);
    let now = Utc::now();
    Organization {
        id: origin.record_id("organization"),
        origin: Some(origin),
        name: name.to_owned(),
        leaderboard_names: false,
        created_at: now,
        updated_at: now,
    }
}

fn new_user(
    org: &Organization,
    source: &str,
    email: &str,
    full_name: &str,
    roles: &[Role],
) -> User {
    let origin = Origin::new(source, email.to_lowercase());
    let now = Utc::now();
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    User {
        id: origin.record_id("user"),
        organization_id: org.id,
        department_id: None,
        origin: Some(origin),
        email: email.to_owned(),
        full_name: full_name.to_owned(),
        job_role: None,
        time_zone: "UTC".into(),
        avatar_url: None,
        leaderboard_opt_out: false,
        roles,
        last_login_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Gives the demo logins their password. They normally arrive from the
/// (simulated) Directory; any that did not are created in a stand-in
/// organisation so the logins always work. Idempotent: an account that has a
/// password keeps it.
pub async fn seed_demo(store: &Store) -> Result<(), AccountError> {
    for (email, name, roles) in DEMO_LOGINS {
        let user = match store.credentials(email).await? {
            Some((_, Some(_))) => continue,
            Some((user, None)) => user,
            None => {
                let org = organization(sources::DEMO, DEMO_ORGANIZATION);
                if store.organization(org.id).await?.is_none() {
                    store.upsert_organization(&org).await?;
                }
                let user = new_user(&org, sources::DEMO, email, name, roles);
                store.upsert_user(&user).await?;
                user
            }
        };
        let hash = hash(DEMO_PASSWORD.to_owned()).await?;
        store.set_password_hash(user.id, &hash).await?;
    }
    Ok(())
}

/// Checks a new password's length.
pub fn check_new_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if !(passwords::MIN_LENGTH..=passwords::MAX_LENGTH).contains(&n) {
        return Err(AccountError::Invalid(format!(
            "a password must be {} to {} characters",
            passwords::MIN_LENGTH,
            passwords::MAX_LENGTH
        )));
    }
    Ok(())
}

/// `lumen user add`: a local account in the named organisation (created if missing).
pub async fn add_user(
    store: &Store,
    organization_name: &str,
    email: &str,
    full_name: &str,
    roles: &[Role],
    password: &str,
) -> Result<User, AccountError> {
    let invalid = |why: String| Err(AccountError::Invalid(why));
    if !is_plausible_email(email) {
        return invalid(format!("{email:?} is not an email address"));
    }
    if roles.is_empty() {
        return invalid("give at least one --role".into());
    }
    if full_name.trim().is_empty() {
        return invalid("--name must not be empty".into());
    }
    check_new_password(password)?;
    if store.user_by_email(email).await?.is_some() {
        return Err(AccountError::Exists(email.to_owned()));
    }
    let org = organization(sources::LOCAL, organization_name);
    if store.organization(org.id).await?.is_none() {
        store.upsert_organization(&org).await?;
    }
    let user = new_user(&org, sources::LOCAL, email, full_name, roles);
    store.upsert_user(&user).await?;
    set_password(store, email, password).await?;
    Ok(user)
}

/// `lumen user set-password`.
pub async fn set_password(store: &Store, email: &str, password: &str) -> Result<(), AccountError> {
    check_new_password(password)?;
    let user = store
        .user_by_email(email)
        .await?
        .ok_or_else(|| AccountError::NotFound(email.to_owned()))?;
    let hash = hash(password.to_owned()).await?;
    store.set_password_hash(user.id, &hash).await?;
    Ok(())
}
