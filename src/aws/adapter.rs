//! The seam between the executor and one resource kind's service calls. A kind's adapter is a
//! type implementing [`Adapter`]: how its calls take a planned change's attributes, and the
//! calls that create, update, replace and delete it. [`apply`] is the one body that carries
//! out a planned change for every kind; an adapter overrides a step only where its service
//! needs another order (a KMS key is replaced new-first, a managed policy's attachments move
//! to its replacement).

use std::collections::{BTreeMap, BTreeSet};

use super::shared::SharedChange;
use super::{ownership_tags, Aws, AwsError, Exports, KindActions};
use crate::model::Attributes;
use crate::plan::{Action, ResourceChange};
use crate::state::{LiveResource, ReadRequest};

/// Tags by key.
pub(crate) type Tags = BTreeMap<String, String>;

/// Which side of a planned change an adapter's config is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// What the spec wants: carries the stack's ownership tags.
    Desired,
    /// What was read: carries them unless the resource is being adopted.
    Live,
}

/// One planned change, as an adapter's calls see it.
pub(crate) struct Change<'a> {
    pub stack: &'a str,
    pub planned: &'a ResourceChange,
    /// The stack's ownership tags for this resource.
    pub ownership: Tags,
}

impl<'a> Change<'a> {
    fn new(stack: &'a str, planned: &'a ResourceChange) -> Self {
        Change {
            stack,
            planned,
            ownership: ownership_tags(stack, &planned.address),
        }
    }

    /// The ownership tags the resource carries on `side`: none yet on the live side of a
    /// resource being adopted.
    pub fn ownership_of(&self, side: Side) -> Tags {
        match side {
            Side::Live if self.planned.take_ownership => Tags::new(),
            _ => self.ownership.clone(),
        }
    }

    /// A plan apply cannot carry out, naming the resource.
    pub fn invalid(&self, message: String) -> AwsError {
        AwsError::invalid_plan(&self.planned.address, message)
    }

    /// The adapter's config of one side of the change.
    pub fn config<A: Adapter + ?Sized>(&self, side: Side) -> Result<A::Config, AwsError> {
        let attributes = match side {
            Side::Desired => self.planned.desired.as_ref(),
            Side::Live => self.planned.live.as_deref(),
        };
        let attributes =
            attributes.ok_or_else(|| self.invalid("attributes missing from the plan".into()))?;
        A::config(self, attributes, side).map_err(|e| self.invalid(e))
    }
}

/// One resource kind's calls. `Client` is the service's client the calls go through.
#[allow(async_fn_in_trait)]
pub(crate) trait Adapter {
    type Client;
    /// The resource as the calls take it, from a plan's attributes.
    type Config;
    /// Whether the kind can be a resource someone else owns (`existing = true`), whose changes
    /// go to [`Adapter::shared`].
    const SHARED: bool = false;
    /// The IAM actions behind the calls, declared next to them (`plinth permissions`).
    const ACTIONS: &'static KindActions;
    /// The call whose answer names a resource of the kind (an answer cut short that lacks the
    /// name is reported as this call's).
    const FIRST_READ: &'static str;
    /// Each attribute read as a policy document held in a string, with the call it comes
    /// from: a string there that is not JSON is a damaged answer (`aws::damaged`).
    const DOCUMENTS: &'static [(&'static str, &'static str)] = &[];

    /// The client of `aws` the calls go through.
    fn client(aws: &Aws) -> &Self::Client;

    /// Reads one resource by its physical name; `None` when it does not exist.
    async fn read(
        client: &Self::Client,
        request: &ReadRequest,
    ) -> Result<Option<LiveResource>, AwsError>;

    /// Every resource of the kind tagged as owned by `stack`, except those under a name in
    /// `named`, which the spec reads by name.
    async fn owned(
        client: &Self::Client,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError>;

    /// `release = true`: only the stack's tags come off. The planner refuses it for the kinds
    /// that keep this default.
    async fn release(
        client: &Self::Client,
        stack: &str,
        planned: &ResourceChange,
    ) -> Result<(), AwsError> {
        let _ = (client, stack);
        Err(AwsError::invalid_plan(
            &planned.address,
            format!("plinth does not release a {}", planned.address.kind),
        ))
    }

    /// The config of one side of a change; the message says what is wrong with the plan.
    fn config(
        change: &Change<'_>,
        attributes: &Attributes,
        side: Side,
    ) -> Result<Self::Config, String>;

    /// Creates the resource; returns its exports.
    async fn create(
        client: &Self::Client,
        change: &Change<'_>,
        desired: &Self::Config,
    ) -> Result<Exports, AwsError>;

    /// Changes the resource in place from `live` to `desired`.
    async fn update(
        client: &Self::Client,
        change: &Change<'_>,
        live: &Self::Config,
        desired: &Self::Config,
    ) -> Result<(), AwsError>;

    /// Deletes the resource of physical id `id`.
    async fn delete(client: &Self::Client, change: &Change<'_>, id: &str) -> Result<(), AwsError>;

    /// Replaces the resource `old_id` with a new one: by default the old one goes first, since
    /// most names cannot be held twice.
    async fn replace(
        client: &Self::Client,
        change: &Change<'_>,
        old_id: &str,
    ) -> Result<Exports, AwsError> {
        Self::delete(client, change, old_id).await?;
        Self::create(client, change, &change.config::<Self>(Side::Desired)?).await
    }

    /// A change to a resource someone else owns; only called when [`Adapter::SHARED`].
    async fn shared(
        client: &Self::Client,
        change: &Change<'_>,
        shared: &SharedChange,
    ) -> Result<(), AwsError> {
        let _ = (client, shared);
        Err(change.invalid(format!(
            "plinth does not share a {}",
            change.planned.address.kind
        )))
    }
}

/// Carries out one planned change through kind `A`'s adapter; returns the resource's exports
/// when it was created.
pub(crate) async fn apply<A: Adapter>(
    client: &A::Client,
    stack: &str,
    planned: &ResourceChange,
) -> Result<Exports, AwsError> {
    let change = Change::new(stack, planned);
    if A::SHARED {
        if let Some(shared) = SharedChange::of(planned) {
            return A::shared(client, &change, &shared)
                .await
                .map(|()| Exports::new());
        }
    }
    match planned.action {
        Action::Create => A::create(client, &change, &change.config::<A>(Side::Desired)?).await,
        Action::Update => {
            let live = change.config::<A>(Side::Live)?;
            let desired = change.config::<A>(Side::Desired)?;
            A::update(client, &change, &live, &desired).await?;
            Ok(Exports::new())
        }
        Action::Replace => {
            let old_id = planned.replaces.as_deref().unwrap_or(&planned.physical_id);
            A::replace(client, &change, old_id).await
        }
        Action::Delete => A::delete(client, &change, &planned.physical_id)
            .await
            .map(|()| Exports::new()),
        Action::NoOp => Ok(Exports::new()),
    }
}
