//! `lumen user …`: local accounts.

use clap::Subcommand;
use lumen_core::Role;

use super::{ConfigArgs, open_store};
use crate::accounts;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an account; reads its password from the first line of standard input.
    Add {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// learner, trainer or org-admin; repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<Role>,
        /// Organisation name (created if missing).
        #[arg(long, default_value = "Local accounts")]
        org: String,
    },
    /// Set an account's password; reads it from the first line of standard input.
    SetPassword {
        #[command(flatten)]
        config: ConfigArgs,
        email: String,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        config: ConfigArgs,
    },
}

pub async fn run(command: UserCommand) -> anyhow::Result<()> {
    let config = match &command {
        UserCommand::Add { config, .. }
        | UserCommand::SetPassword { config, .. }
        | UserCommand::List { config } => config.load()?,
    };
    let store = open_store(&config).await?;
    match command {
        UserCommand::Add {
            email,
            name,
            roles,
            org,
            ..
        } => {
            let password = read_password()?;
            let user = accounts::add_user(&store, &org, &email, &name, &roles, &password).await?;
            println!("created {} ({})", user.email, user.id);
        }
        UserCommand::SetPassword { email, .. } => {
            let password = read_password()?;
            accounts::set_password(&store, &email, &password).await?;
            println!("password set for {email}");
        }
        UserCommand::List { .. } => {
            println!("{:<36}  {:<32}  {:<24}  roles", "id", "email", "name");
            for user in store.users(None).await? {
                let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
                println!(
                    "{:<36}  {:<32}  {:<24}  {}",
                    user.id,
                    user.email,
                    user.full_name,
                    roles.join(",")
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}
