//! The registry of check kinds, one module each, and the runner that grades a lab's steps.
//!
//! A kind is one file, `checks/<kind>.rs`, plus one word in the [`kinds!`] line below. The file
//! owns everything about the kind: its `Spec` (its parameters, deserialized from `lab.toml`),
//! its `DOC` (the one text `lab kinds`, rustdoc and the book show), and its [`Kind`] impl:
//! what it [`Needs`] (for `lab doctor`), what it [`Makes`] (for `lab reset`), and its check,
//! an async function from the shared [`Ctx`] to a list of [`CheckResult`]s. The lab loader,
//! the runner, `reset`, `doctor` and the catalogue read the registry and nothing else.
//! Steps run concurrently; the slow parts (probe container, host gunicorn) overlap.

use crate::report::CheckResult;

mod content;
mod context;
mod serving;
#[cfg(test)]
mod testkit;

pub use content::{compare_content, source_files, ImageContent};
pub use context::{engine_error, same_path, Bindings, Ctx};
pub use serving::{probe_container, selector_key, start_serving, stop_probe, unreachable_bind};

/// What a check needs from the machine; `lab doctor LAB` checks the union over the lab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// A container engine.
    pub engine: bool,
    /// A base image that must be present or pullable (by that engine).
    pub base_image: Option<String>,
    /// Docker Compose.
    pub compose: bool,
    /// A registry (`host:port`) that must answer.
    pub registry: Option<String>,
    /// A Python with venv and pip on the host.
    pub python: bool,
    /// A host port that must be free for the learner's container.
    pub host_port: Option<u16>,
}

impl Needs {
    /// Only the engine.
    pub const ENGINE: Needs = Needs {
        engine: true,
        compose: false,
        python: false,
        base_image: None,
        registry: None,
        host_port: None,
    };

    /// The same needs plus a host port.
    pub fn and_port(self, port: u16) -> Needs {
        Needs {
            host_port: Some(port),
            ..self
        }
    }
}

/// What the learner makes in the engine for a check, so `lab reset` can remove it (and only it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Makes {
    /// Repositories (last path component) whose tags, containers and registry tags are the lab's.
    pub repositories: Vec<String>,
    /// The workspace's Compose project.
    pub compose_project: bool,
}

impl Makes {
    /// The repository of an image reference.
    pub fn image(reference: &str) -> Makes {
        Makes::repository(crate::reference::Reference::parse(reference).name())
    }
    /// A repository by name.
    pub fn repository(name: &str) -> Makes {
        Makes {
            repositories: vec![name.to_string()],
            compose_project: false,
        }
    }
}

/// A check kind: implemented by each kind's `Spec`.
#[allow(async_fn_in_trait)]
pub trait Kind {
    /// What the check needs from the machine.
    fn needs(&self) -> Needs;
    /// What the learner makes for this check.
    fn makes(&self) -> Makes {
        Makes::default()
    }
}

/// A kind's [`Kind`] impl for its `Spec`, in one line:
/// `kind!(needs: |s| ..., makes: |s| ...)`. Leave out `needs` for the engine alone and `makes`
/// for nothing.
macro_rules! kind {
    (needs: |$n:pat_param| $needs:expr, makes: |$m:pat_param| $makes:expr $(,)?) => {
        impl $crate::checks::Kind for Spec {
            fn needs(&self) -> $crate::checks::Needs {
                let $n = self;
                $needs
            }
            fn makes(&self) -> $crate::checks::Makes {
                let $m = self;
                $makes
            }
        }
    };
    (needs: |$n:pat_param| $needs:expr $(,)?) => {
        kind!(needs: |$n| $needs, makes: |_| $crate::checks::Makes::default());
    };
    (makes: |$m:pat_param| $makes:expr $(,)?) => {
        kind!(needs: |_| $crate::checks::Needs::ENGINE, makes: |$m| $makes);
    };
}

/// The registry: one line names every kind. It declares the modules, the `kind`-tagged
/// [`CheckSpec`] that lab files deserialize into, its dispatch, and the [`CATALOGUE`].
macro_rules! kinds {
    ($($kind:ident),* $(,)?) => {
        $(pub mod $kind;)*

        /// A check in a lab file: `kind = "<name>"` plus that kind's parameters (its `Spec`).
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(tag = "kind")]
        #[allow(non_camel_case_types)]
        pub enum CheckSpec {
            $(
                #[doc = concat!("See [`", stringify!($kind), "`].")]
                $kind($kind::Spec),
            )*
        }

        impl CheckSpec {
            /// The kind's name as written in lab files.
            pub fn kind(&self) -> &'static str {
                match self { $(CheckSpec::$kind(_) => stringify!($kind),)* }
            }
            /// What the check needs from the machine.
            pub fn needs(&self) -> Needs {
                match self { $(CheckSpec::$kind(s) => s.needs(),)* }
            }
            /// What the learner makes for it.
            pub fn makes(&self) -> Makes {
                match self { $(CheckSpec::$kind(s) => s.makes(),)* }
            }
            /// Run the check for a step.
            pub async fn check(&self, ctx: &Ctx, step: &str) -> Vec<CheckResult> {
                match self { $(CheckSpec::$kind(s) => $kind::check(ctx, step, s).await,)* }
            }
        }

        /// Every kind's name and its `DOC`, in registry order, for `lab kinds` and the book.
        pub const CATALOGUE: &[(&str, &str)] = &[$((stringify!($kind), $kind::DOC),)*];
    };
}

kinds!(
    dockerfile,
    image,
    probe,
    container,
    tag,
    push,
    compose,
    editable,
    nonroot,
    healthcheck,
    devloop,
    size
);
