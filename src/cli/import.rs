//! `plinth import`: its flags, and the glue from them to `crate::import`.

use std::path::PathBuf;

use clap::Args;

use super::{load, parse_var, AwsArgs, Failure, SpecArgs, Ui};
use crate::aws::Aws;
use crate::import::{self, ImportError, ImportRequest, Wanted};
use crate::model::Kind;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The stack the written spec declares (default with --like: the ready-made stack's)
    #[arg(long, value_name = "NAME", required_unless_present = "like")]
    pub stack: Option<String>,
    /// The directory to write plinth.toml and its policy files into
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// An IAM role, by name (repeatable)
    #[arg(long = "role", value_name = "NAME")]
    pub roles: Vec<String>,
    /// A customer managed policy, by ARN (repeatable)
    #[arg(long = "policy", value_name = "ARN")]
    pub policies: Vec<String>,
    /// An instance profile, by name (repeatable)
    #[arg(long = "instance-profile", value_name = "NAME")]
    pub instance_profiles: Vec<String>,
    /// An IAM OIDC provider, by its issuer URL or ARN (repeatable)
    #[arg(long = "oidc-provider", value_name = "URL")]
    pub oidc_providers: Vec<String>,
    /// A KMS key, by key id, key ARN or alias/NAME (repeatable)
    #[arg(long = "key", value_name = "ID|ARN|ALIAS")]
    pub keys: Vec<String>,
    /// An SQS queue, by name (repeatable)
    #[arg(long = "queue", value_name = "NAME")]
    pub queues: Vec<String>,
    /// A Lambda function, by name (repeatable)
    #[arg(long = "function", value_name = "NAME")]
    pub functions: Vec<String>,
    /// An S3 bucket, by name (repeatable)
    #[arg(long = "bucket", value_name = "NAME")]
    pub buckets: Vec<String>,
    /// A ready-made stack: import the resources it would name, and report how they differ
    /// from it
    #[arg(long, value_name = "SPEC")]
    pub like: Option<PathBuf>,
    /// Set a variable of the --like stack (repeatable)
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var, requires = "like")]
    pub vars: Vec<(String, String)>,
    /// The environment of the --like stack, an [env.NAME]: its variables, and its account,
    /// region and role to read with
    #[arg(long = "env", value_name = "NAME", requires = "like")]
    pub env: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl ImportArgs {
    fn named(&self) -> Vec<Wanted> {
        let groups: [(Kind, &Vec<String>); 8] = [
            (Kind::Role, &self.roles),
            (Kind::Policy, &self.policies),
            (Kind::InstanceProfile, &self.instance_profiles),
            (Kind::OidcProvider, &self.oidc_providers),
            (Kind::Key, &self.keys),
            (Kind::Queue, &self.queues),
            (Kind::Function, &self.functions),
            (Kind::Bucket, &self.buckets),
        ];
        groups
            .into_iter()
            .flat_map(|(kind, ids)| {
                ids.iter().map(move |id| Wanted {
                    kind,
                    id: id.clone(),
                    name: None,
                })
            })
            .collect()
    }
}

impl From<ImportError> for Failure {
    fn from(e: ImportError) -> Failure {
        match e {
            ImportError::Aws(e) => Failure::Aws(e),
            ImportError::Refused { message, hint } => Failure::Refused { message, hint },
        }
    }
}

pub(super) async fn run(args: ImportArgs, ui: &Ui) -> Result<u8, Failure> {
    let like = match &args.like {
        Some(file) => Some(load(
            &SpecArgs {
                spec: file.clone(),
                vars: args.vars.clone(),
                var_files: Vec::new(),
                envs: super::envs::EnvArgs {
                    names: args.env.iter().cloned().collect(),
                    ..Default::default()
                },
            },
            ui,
        )?),
        None => None,
    };
    // The ready-made stack's environment says where to read, as for every other command.
    let aws = match &like {
        Some(spec) => {
            let aws = super::envs::connect(&args.aws, spec).await?;
            crate::workflow::guard::check_account(&aws, spec).await?;
            aws
        }
        None => Aws::connect(&args.aws.options()).await?,
    };
    let mut resources = Vec::new();
    if let Some(spec) = &like {
        let account = aws.sts.account().await?;
        resources = import::like::wanted(spec, &account).map_err(Failure::Spec)?;
    }
    resources.extend(args.named());
    let stack = args
        .stack
        .clone()
        .or_else(|| like.as_ref().map(|s| s.stack.name.clone()))
        .unwrap_or_default();
    let request = ImportRequest {
        stack: stack.clone(),
        resources,
        missing_ok: like.is_some(),
    };
    let (account, found) = import::read(&aws, &request).await?;
    if found.is_empty() {
        return Err(Failure::Refused {
            message: "none of the ready-made stack's resources exist in this account; nothing was written".into(),
            hint: Some("check --var values and --region: resources are looked for by the names the stack would give them".into()),
        });
    }
    // What a ready-made stack shares with the resource's owner is narrowed to what it
    // declares; the comparison below still sees all that was found.
    let mut to_write = found.clone();
    let left = match &like {
        Some(spec) => import::like::narrow(spec, &account, &mut to_write),
        None => Vec::new(),
    };
    let mut imported = import::write::spec(&stack, &account, &to_write);
    imported.notes.extend(left);
    let written = import::write_files(&args.out, &imported)?;
    for path in &written {
        ui.err(&format!("wrote {}\n", path.display()));
    }
    for note in &imported.notes {
        ui.err(&format!("note: {note}\n"));
    }
    // What was written must load as it is; if it does not, that is plinth's bug to report.
    let written_spec = args.out.join("plinth.toml");
    if let Err(diags) = crate::spec::load(&written_spec, &crate::spec::LoadOptions::default()) {
        ui.err(&diags.render(ui.color_stderr));
        return Err(Failure::Refused {
            message: format!(
                "the spec written to `{}` does not validate",
                written_spec.display()
            ),
            hint: Some(
                "edit it as the errors above say, and please report the resources that caused it"
                    .into(),
            ),
        });
    }
    if let Some(spec) = &like {
        let report = import::like::compare(spec, &account, &found).map_err(Failure::Planned)?;
        ui.out(&report.text());
    }
    ui.err(&format!(
        "Imported {} resource{} into stack `{stack}`; `plinth plan -f {}` shows their adoption.\n",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        args.out.join("plinth.toml").display()
    ));
    Ok(0)
}
