//! One entry point for an app: the Lambda `main` and the developer commands, over the app's
//! own router. Feature `app`.
//!
//! An app's `main` hands [`App::new`] a function that registers its models and handlers; the
//! rest comes from the command line and the environment:
//!
//! - Under the Lambda runtime (`AWS_LAMBDA_RUNTIME_API` set) with no command, it serves
//!   invocations ([`crate::lambda::run`]).
//! - Otherwise it offers `replay` (event files); with feature `dynamodb`, `create-table`; with
//!   feature `poll`, `poll` (a live stream, with Lambda's delivery rules) and `record` (a stream
//!   to an event file). `--help` on each.
//! - Configuration by flag or environment, one spelling everywhere: `--mirror`/`MIRROR_URL`
//!   (feature `postgres`), `--mirror-secret`/`MIRROR_SECRET_ARN` (feature
//!   `secrets-manager`), `--mirror-table`/`MIRROR_TABLE`, `--table`/`TABLE_NAME`,
//!   `--store`/`DYNASTREAM_STORE`, `--endpoint-url` (else the AWS SDK's own settings,
//!   `AWS_ENDPOINT_URL` included), `--pk-attr`/`--sk-attr`, `--log-format`/
//!   `AWS_LAMBDA_LOG_FORMAT`, `--log-level`/`AWS_LAMBDA_LOG_LEVEL`.
//! - Exit status: 0 every record acknowledged; 1 a record failed (or `poll` gave one up);
//!   2 usage, configuration, or an event or service that cannot be read.
//!
//! ```no_run
//! use dynastream::app::{App, Setup};
//! use dynastream::{Change, Context, Model, Router};
//!
//! #[derive(Debug, serde::Deserialize, Model)]
//! #[dynastream(pk = "USER#{id}", sk = "PROFILE")]
//! struct User { id: String, name: String }
//!
//! async fn on_user(change: Change<User>, _: Context<()>) -> Result<(), std::io::Error> {
//!     println!("{} {:?}", change.kind(), change.new_image().map(|u| &u.name));
//!     Ok(())
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     App::new(|_: Setup| Router::builder(()).on::<User, _>(on_user)).run()
//! }
//! ```

#[cfg(feature = "mirror-tools")]
mod backfill;
mod cli;
mod commands;
mod print;
#[cfg(feature = "redrive")]
mod redrive;
#[cfg(feature = "secrets-manager")]
mod secret;
mod store;

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory as _, FromArgMatches as _, Subcommand};
use dynastream_core::{BoxError, RouterBuilder};

pub use print::print_records;
pub use store::AppStore;

/// A command's error in the command's terms, with the library's (or the system's) error kept
/// as its [`source`](std::error::Error::source): `reading the stream of app: <the error>`.
#[derive(Debug)]
struct CommandError {
    /// What the command was doing, or (`after`) what to do about it.
    says: String,
    /// Whether `says` follows the cause (`<cause>: set --pk-attr and --sk-attr`).
    after: bool,
    source: BoxError,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.after {
            write!(f, "{}: {}", self.source, self.says)
        } else {
            write!(f, "{}: {}", self.says, self.source)
        }
    }
}

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// `map_err(doing("reading the stream"))`: the error, said as what the command was doing.
fn doing<E: Into<BoxError>>(says: impl Into<String>) -> impl FnOnce(E) -> BoxError {
    said(says.into(), false)
}

/// `map_err(then("set --pk-attr"))`: the error, followed by what to do about it.
#[cfg(feature = "dynamodb")]
fn then<E: Into<BoxError>>(says: impl Into<String>) -> impl FnOnce(E) -> BoxError {
    said(says.into(), true)
}

fn said<E: Into<BoxError>>(says: String, after: bool) -> impl FnOnce(E) -> BoxError {
    move |e| {
        Box::new(CommandError {
            says,
            after,
            source: e.into(),
        })
    }
}

/// What the command line configured, handed to the app's router function.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Setup {
    /// The store `--store` (or `--table`, `TABLE_NAME`) names, already connected. Put it in
    /// the router's state for handlers that read or write models.
    pub store: Option<AppStore>,
}

type BuildFn<S> = Box<dyn Fn(Setup) -> RouterBuilder<S>>;
type ExtraRun =
    Box<dyn Fn(&ArgMatches, Setup) -> Pin<Box<dyn Future<Output = Result<ExitCode, BoxError>>>>>;

/// Commands an app adds beside the built-in ones (see [`App::command`]).
struct Extra {
    augment: fn(clap::Command) -> clap::Command,
    has: fn(&str) -> bool,
    run: ExtraRun,
}

/// An app: its router function and, optionally, commands of its own. [`App::run`] is the whole
/// `main`.
pub struct App<S> {
    build: BuildFn<S>,
    extra: Option<Extra>,
    version: Option<&'static str>,
}

impl<S: Send + Sync + 'static> App<S> {
    /// An app whose router `build` registers. `build` is called once per process, with the
    /// store the command line configured; the entry point adds the mirror (when configured) as
    /// a batch hook and the `--concurrency` setting, then builds the router.
    pub fn new(build: impl Fn(Setup) -> RouterBuilder<S> + 'static) -> Self {
        App {
            build: Box::new(build),
            extra: None,
            version: None,
        }
    }

    /// The version `--version` prints: pass your crate's, `env!("CARGO_PKG_VERSION")`. Without
    /// it the app has no `--version`.
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    /// The command line: the built-in commands, the app's own, named after the binary.
    fn cli_command(&self) -> clap::Command {
        let name = std::env::args_os()
            .next()
            .and_then(|a| {
                std::path::Path::new(&a)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| "app".to_string());
        let mut command = cli::Cli::command().name(name.clone()).bin_name(name);
        if let Some(v) = self.version {
            command = command.version(v);
        }
        if let Some(extra) = &self.extra {
            command = (extra.augment)(command);
        }
        command
    }

    /// Adds the app's own commands: `C` is a clap `Subcommand` enum; when one of them is given,
    /// `run` gets it with the configured [`Setup`] and its exit status is the process's.
    ///
    /// ```no_run
    /// # use dynastream::app::{App, Setup};
    /// #[derive(clap::Subcommand)]
    /// enum Extra {
    ///     /// Write example items.
    ///     Seed,
    /// }
    /// # fn main() -> std::process::ExitCode {
    /// App::new(|_: Setup| dynastream::Router::builder(()))
    ///     .command(|cmd: Extra, setup: Setup| async move {
    ///         match cmd {
    ///             Extra::Seed => println!("store: {:?}", setup.store),
    ///         }
    ///         Ok(std::process::ExitCode::SUCCESS)
    ///     })
    ///     .run()
    /// # }
    /// ```
    pub fn command<C, F, Fut>(mut self, run: F) -> Self
    where
        C: Subcommand + 'static,
        F: Fn(C, Setup) -> Fut + 'static,
        Fut: Future<Output = Result<ExitCode, BoxError>> + 'static,
    {
        self.extra = Some(Extra {
            augment: C::augment_subcommands,
            has: C::has_subcommand,
            run: Box::new(move |matches, setup| {
                let parsed = C::from_arg_matches(matches);
                match parsed {
                    Ok(c) => Box::pin(run(c, setup)),
                    Err(e) => Box::pin(async move { Err(e.into()) }),
                }
            }),
        });
        self
    }

    /// Parses the command line and runs the command (or serves Lambda invocations); returns the
    /// exit status. Prints usage and exits with status 2 on a usage error, 0 for `--help`.
    pub fn run(self) -> ExitCode {
        let matches = self.cli_command().get_matches();
        // Lambda Managed Instances serve several invocations at once: spread them over the
        // environment's vCPUs. Otherwise (classic Lambda, the commands) one thread.
        let mut builder = match crate::lambda::max_concurrency() {
            Some(n) if n > 1 => tokio::runtime::Builder::new_multi_thread(),
            _ => tokio::runtime::Builder::new_current_thread(),
        };
        let runtime = match builder.enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("cannot start the async runtime: {e}");
                return ExitCode::from(2);
            }
        };
        runtime.block_on(self.dispatch(matches))
    }

    async fn dispatch(self, matches: ArgMatches) -> ExitCode {
        let extra_name = matches
            .subcommand_name()
            .filter(|n| self.extra.as_ref().is_some_and(|e| (e.has)(n)))
            .map(str::to_string);
        let parsed = match extra_name {
            Some(_) => cli::Global::from_arg_matches(&matches).map(|global| cli::Cli {
                global,
                command: None,
            }),
            None => cli::Cli::from_arg_matches(&matches),
        };
        let cli = match parsed {
            Ok(c) => c,
            Err(e) => e.exit(),
        };
        crate::lambda::init_logging_with(
            cli.global.log_format == cli::LogFormat::Json,
            cli.global.log_level.as_deref(),
        );
        let result = match (extra_name, cli.command) {
            (Some(_), _) => match &self.extra {
                Some(extra) => {
                    match commands::setup(&cli.global, commands::StoreUse::Default).await {
                        Ok(setup) => (extra.run)(&matches, setup).await,
                        Err(e) => Err(e),
                    }
                }
                None => Err("no such command".into()),
            },
            (None, Some(cmd)) => commands::run(&self.build, &cli.global, cmd).await,
            (None, None) if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() => {
                commands::serve(&self.build, &cli.global).await
            }
            (None, None) => {
                let _ = self.cli_command().print_help();
                eprintln!("\nno command given (and AWS_LAMBDA_RUNTIME_API is not set, so not serving Lambda)");
                return ExitCode::from(2);
            }
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                let mut shown = e.to_string();
                eprintln!("error: {shown}");
                let mut source = e.source();
                // A cause already said in the line above (a wrapper's "doing x: <cause>") is
                // not said again.
                while let Some(s) = source {
                    let text = s.to_string();
                    if !shown.contains(&text) {
                        eprintln!("  caused by: {text}");
                    }
                    shown = text;
                    source = s.source();
                }
                ExitCode::from(2)
            }
        }
    }
}
