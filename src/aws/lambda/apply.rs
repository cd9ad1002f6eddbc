//! Changing functions: create, update (code, configuration, concurrency, tags, triggers) and delete, and the function adapter of the generic apply.

use super::*;

impl Lambda {
    /// CreateFunction (waiting for IAM to propagate a new role), PutFunctionConcurrency and
    /// one CreateEventSourceMapping per trigger. Returns the function's exports.
    pub async fn create_function(&self, f: &FunctionConfig) -> Result<Exports, AwsError> {
        let code = f.code_source()?;
        let tags: HashMap<String, String> = f.all_tags(None).into_iter().collect();
        let environment = f.environment_for_aws()?;
        let out = retry_transient(self.patience, not_yet_propagated, || {
            let request = self
                .client
                .create_function()
                .function_name(&f.name)
                .role(&f.role)
                .set_runtime(f.runtime.as_deref().map(Runtime::from))
                .set_handler(f.handler.clone())
                .code(code.function_code())
                .package_type(if f.package_type == "Image" {
                    PackageType::Image
                } else {
                    PackageType::Zip
                })
                .set_description(f.description.clone())
                .set_timeout(f.timeout)
                .set_memory_size(f.memory)
                .set_environment(environment.clone())
                .set_architectures(f.architectures())
                .set_ephemeral_storage(f.ephemeral_storage())
                .set_tags(Some(tags.clone()));
            async move {
                request
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("lambda:CreateFunction", &e))
            }
        })
        .await;
        // CreateFunction has no idempotency token: a function carrying this resource's
        // ownership tags is the one an attempt whose response was lost created.
        let arn = match out {
            Ok(out) => out.function_arn().unwrap_or_default().to_string(),
            Err(e) if already_exists(&e) => {
                let existing = self
                    .client
                    .get_function()
                    .function_name(&f.name)
                    .send()
                    .await
                    .ok();
                let ours = existing.as_ref().is_some_and(|o| {
                    let theirs = o.tags();
                    f.ownership
                        .iter()
                        .all(|(k, v)| theirs.and_then(|t| t.get(k)) == Some(v))
                });
                match existing.and_then(|o| o.configuration).filter(|_| ours) {
                    Some(config) => config.function_arn().unwrap_or_default().to_string(),
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let finish = async {
            if let Some(n) = f.reserved_concurrency {
                self.put_concurrency(&f.name, n).await?;
            }
            for (queue, trigger) in f.triggers.iter().flatten() {
                self.create_mapping(&f.name, queue, trigger).await?;
            }
            Ok(())
        };
        finish
            .await
            .map_err(crate::aws::created_unfinished("function", &f.name))?;
        Ok(Exports::from([
            ("arn".into(), arn),
            ("name".into(), f.name.clone()),
        ]))
    }

    /// A function still Pending after its create, or busy with an update, refuses every
    /// call on it for a while (ResourceConflictException): waited out as the updates are.
    async fn put_concurrency(&self, name: &str, n: i32) -> Result<(), AwsError> {
        retry_transient(self.patience, busy, || async {
            self.client
                .put_function_concurrency()
                .function_name(name)
                .reserved_concurrent_executions(n)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("lambda:PutFunctionConcurrency", &e))
        })
        .await?;
        Ok(())
    }

    /// Creates the mapping of `queue` to `function`. Lambda allows one per pair, and one being
    /// deleted still counts: a function deleted (with its mappings) and made again at once,
    /// as `destroy` then `apply` do, waits until the old mapping is gone.
    async fn create_mapping(
        &self,
        function: &str,
        queue: &str,
        t: &TriggerConfig,
    ) -> Result<(), AwsError> {
        let started = std::time::Instant::now();
        let mut delay = self.patience.first_delay;
        loop {
            let refused = match self.create_mapping_once(function, queue, t).await {
                Err(e) if already_exists(&e) => e,
                other => return other,
            };
            let existing = self.all_sqs_mappings(function).await?;
            match mapping_conflict(&existing, queue, t) {
                MappingConflict::Made => return Ok(()),
                MappingConflict::BeingDeleted
                    if started.elapsed() + delay <= self.patience.limit =>
                {
                    let waiting = AwsError {
                        message: format!(
                            "{} (the earlier mapping is still being deleted)",
                            refused.message
                        ),
                        ..refused
                    };
                    crate::aws::wait(delay, &waiting).await?;
                    delay = (delay * 2).min(self.patience.max_delay);
                }
                MappingConflict::BeingDeleted => {
                    return Err(AwsError {
                        hint: Some(format!(
                            "the earlier mapping of `{queue}` to function `{function}` is still being deleted; run `plinth apply` again in a minute, or raise --max-wait"
                        )),
                        ..refused
                    })
                }
                MappingConflict::Other => {
                    return Err(AwsError {
                        hint: Some(format!(
                            "a mapping of `{queue}` to function `{function}` already exists with other settings; run `plinth plan` again to see and update it, or delete the mapping (aws lambda delete-event-source-mapping --uuid ...)"
                        )),
                        ..refused
                    })
                }
            }
        }
    }

    async fn create_mapping_once(
        &self,
        function: &str,
        queue: &str,
        t: &TriggerConfig,
    ) -> Result<(), AwsError> {
        retry_transient(
            self.patience,
            |e| not_yet_propagated(e) || busy(e),
            || {
                let request = self
                    .client
                    .create_event_source_mapping()
                    .function_name(function)
                    .event_source_arn(queue)
                    .batch_size(t.batch_size)
                    .maximum_batching_window_in_seconds(t.batching_window)
                    .enabled(t.enabled)
                    .set_function_response_types(Some(t.response_types()));
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("lambda:CreateEventSourceMapping", &e))
                }
            },
        )
        .await
        .map(|_| ())
    }

    /// Brings a function from `before` to `after`: its code (UpdateFunctionCode), then its
    /// configuration (UpdateFunctionConfiguration, once the code update has settled),
    /// concurrency, tags and triggers, each only if it differs.
    pub async fn update_function(
        &self,
        before: &FunctionConfig,
        after: &FunctionConfig,
    ) -> Result<(), AwsError> {
        let name = &after.name;
        // The function's ARN, for tagging: each update answers with it.
        let mut arn = None;
        if after.code != before.code
            || (after.architectures.is_some() && after.architectures != before.architectures)
        {
            let code = after.code_source()?;
            // A function still Pending after its create, or busy with an update, refuses
            // another until it settles.
            let updated = retry_transient(self.patience, busy, || {
                let request = code
                    .update(self.client.update_function_code().function_name(name))
                    .set_architectures(after.architectures());
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("lambda:UpdateFunctionCode", &e))
                }
            })
            .await?;
            arn = updated.function_arn;
        }
        let changed = after.configuration_changes(before);
        if changed.any {
            let environment = if changed.environment {
                after.environment_for_aws()?
            } else {
                None
            };
            let updated = retry_transient(
                self.patience,
                |e| busy(e) || not_yet_propagated(e),
                || {
                    let request = self
                        .client
                        .update_function_configuration()
                        .function_name(name)
                        .set_role(changed.role.then(|| after.role.clone()))
                        .set_runtime(
                            changed
                                .runtime
                                .then(|| after.runtime.as_deref().map(Runtime::from))
                                .flatten(),
                        )
                        .set_handler(changed.handler.then(|| after.handler.clone()).flatten())
                        .set_description(
                            changed
                                .description
                                .then(|| after.description.clone())
                                .flatten(),
                        )
                        .set_timeout(changed.timeout.then_some(after.timeout).flatten())
                        .set_memory_size(changed.memory.then_some(after.memory).flatten())
                        .set_ephemeral_storage(
                            changed
                                .ephemeral_storage
                                .then(|| after.ephemeral_storage())
                                .flatten(),
                        )
                        .set_environment(environment.clone());
                    async move {
                        request.send().await.map_err(|e| {
                            AwsError::from_sdk("lambda:UpdateFunctionConfiguration", &e)
                        })
                    }
                },
            )
            .await?;
            arn = updated.function_arn.or(arn);
        }
        if let Some(n) = after
            .reserved_concurrency
            .filter(|n| before.reserved_concurrency != Some(*n))
        {
            self.put_concurrency(name, n).await?;
        }
        let current = before.all_tags(None);
        let wanted = after.all_tags(before.tags.as_ref());
        if current != wanted {
            self.retag(name, arn, &current, &wanted).await?;
        }
        // The plan read every SQS mapping: triggers as read need no second listing.
        if let Some(triggers) = after
            .triggers
            .as_ref()
            .filter(|t| before.triggers.as_ref() != Some(*t))
        {
            self.sync_triggers(name, triggers).await?;
        }
        Ok(())
    }

    /// Tags by ARN, which Lambda's tagging calls take: `arn` when an update answered with it,
    /// else one GetFunctionConfiguration.
    async fn retag(
        &self,
        name: &str,
        arn: Option<String>,
        current: &BTreeMap<String, String>,
        wanted: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        let arn = match arn {
            Some(arn) => arn,
            None => self
                .client
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("lambda:GetFunctionConfiguration", &e))?
                .function_arn
                .unwrap_or_default(),
        };
        FunctionTags {
            lambda: self,
            arn: &arn,
        }
        .retag(current, wanted)
        .await
    }

    /// Matches the function's SQS mappings to the wanted triggers by queue ARN: creates the
    /// missing, updates the different, deletes the rest.
    async fn sync_triggers(
        &self,
        function: &str,
        wanted: &BTreeMap<String, TriggerConfig>,
    ) -> Result<(), AwsError> {
        let current = self.sqs_mappings(function).await?;
        for (queue, trigger) in wanted {
            match current
                .iter()
                .find(|m| m.event_source_arn() == Some(queue.as_str()))
            {
                None => self.create_mapping(function, queue, trigger).await?,
                Some(m) if trigger_value(m) != trigger.value() => {
                    retry_transient(self.patience, busy, || {
                        let request = self
                            .client
                            .update_event_source_mapping()
                            .uuid(m.uuid().unwrap_or_default())
                            .batch_size(trigger.batch_size)
                            .maximum_batching_window_in_seconds(trigger.batching_window)
                            .enabled(trigger.enabled)
                            .set_function_response_types(Some(trigger.response_types()));
                        async move {
                            request.send().await.map_err(|e| {
                                AwsError::from_sdk("lambda:UpdateEventSourceMapping", &e)
                            })
                        }
                    })
                    .await?;
                }
                Some(_) => {}
            }
        }
        for m in current
            .iter()
            .filter(|m| !wanted.contains_key(m.event_source_arn().unwrap_or_default()))
        {
            self.delete_mapping(m.uuid().unwrap_or_default()).await?;
        }
        Ok(())
    }

    async fn delete_mapping(&self, uuid: &str) -> Result<(), AwsError> {
        retry_transient(self.patience, busy, || {
            let request = self.client.delete_event_source_mapping().uuid(uuid);
            async move {
                not_found_as_none(
                    request.send().await,
                    "lambda:DeleteEventSourceMapping",
                    NOT_FOUND,
                )
                .map(|_| ())
            }
        })
        .await
    }

    /// Deletes the function's SQS mappings, then the function; already gone counts as done.
    pub async fn delete_function(&self, name: &str) -> Result<(), AwsError> {
        for m in self.sqs_mappings(name).await? {
            self.delete_mapping(m.uuid().unwrap_or_default()).await?;
        }
        not_found_as_none(
            self.client
                .delete_function()
                .function_name(name)
                .send()
                .await,
            "lambda:DeleteFunction",
            NOT_FOUND,
        )?;
        Ok(())
    }
}

/// Functions through the generic apply.
pub(crate) struct FunctionAdapter;

impl Adapter for FunctionAdapter {
    type Client = Lambda;
    type Config = FunctionConfig;
    const ACTIONS: &'static KindActions = &ACTIONS;
    const FIRST_READ: &'static str = "lambda:GetFunction";

    fn client(aws: &Aws) -> &Lambda {
        &aws.lambda
    }

    async fn read(
        lambda: &Lambda,
        request: &ReadRequest,
    ) -> Result<Option<LiveResource>, AwsError> {
        lambda.read_function(request).await
    }

    async fn owned(
        lambda: &Lambda,
        stack: &str,
        named: &BTreeSet<String>,
    ) -> Result<Vec<LiveResource>, AwsError> {
        lambda.owned_functions(stack, named).await
    }

    fn config(
        change: &Change<'_>,
        attributes: &Attributes,
        side: Side,
    ) -> Result<FunctionConfig, String> {
        FunctionConfig::from_attributes(attributes, &change.ownership_of(side))
    }

    async fn create(
        lambda: &Lambda,
        _: &Change<'_>,
        desired: &FunctionConfig,
    ) -> Result<Exports, AwsError> {
        lambda.create_function(desired).await
    }

    async fn update(
        lambda: &Lambda,
        _: &Change<'_>,
        live: &FunctionConfig,
        desired: &FunctionConfig,
    ) -> Result<(), AwsError> {
        lambda.update_function(live, desired).await
    }

    async fn delete(lambda: &Lambda, _: &Change<'_>, name: &str) -> Result<(), AwsError> {
        lambda.delete_function(name).await
    }
}

/// One function's tagging calls, which take its ARN.
struct FunctionTags<'a> {
    lambda: &'a Lambda,
    arn: &'a str,
}

impl Tagging for FunctionTags<'_> {
    async fn tag(&self, tags: BTreeMap<String, String>) -> Result<(), AwsError> {
        (self.lambda.client.tag_resource())
            .resource(self.arn)
            .set_tags(Some(tags.into_iter().collect()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("lambda:TagResource", &e))
            .map(|_| ())
    }

    async fn untag(&self, keys: Vec<String>) -> Result<(), AwsError> {
        (self.lambda.client.untag_resource())
            .resource(self.arn)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("lambda:UntagResource", &e))
            .map(|_| ())
    }
}

/// What the mapping a create was refused for is (Lambda allows one per queue and function).
#[derive(Debug, PartialEq)]
enum MappingConflict {
    /// It has the wanted settings: an earlier attempt of this create made it (its answer lost).
    Made,
    /// It is being deleted: trying again will do, in a while.
    BeingDeleted,
    /// It has other settings, or Lambda lists none for the queue: someone else's, or one the
    /// plan did not see.
    Other,
}

fn mapping_conflict(
    existing: &[EventSourceMappingConfiguration],
    queue: &str,
    wanted: &TriggerConfig,
) -> MappingConflict {
    let mut of_queue = existing
        .iter()
        .filter(|m| m.event_source_arn() == Some(queue));
    let live = of_queue.clone().find(|m| m.state() != Some("Deleting"));
    match live {
        Some(m) if trigger_value(m) == wanted.value() => MappingConflict::Made,
        Some(_) => MappingConflict::Other,
        None if of_queue.next().is_some() => MappingConflict::BeingDeleted,
        None => MappingConflict::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Of the mappings Lambda lists for the function, the one of the queue decides: the wanted
    /// settings are this create's own; a mapping being deleted (the old function's, after a
    /// destroy) is waited out; other settings, or none listed, are a conflict.
    #[test]
    fn a_mapping_being_deleted_is_waited_out_and_one_with_other_settings_is_a_conflict() {
        let queue = "arn:aws:sqs:us-east-1:123456789012:tonic-work";
        let wanted = TriggerConfig {
            batch_size: 1,
            batching_window: 0,
            enabled: true,
            function_response_types: Vec::new(),
        };
        let mapping = |source: &str, state: &str, batch: i32| {
            EventSourceMappingConfiguration::builder()
                .event_source_arn(source)
                .state(state)
                .batch_size(batch)
                .maximum_batching_window_in_seconds(0)
                .build()
        };
        let other_queue = mapping("arn:aws:sqs:us-east-1:123456789012:other", "Enabled", 5);
        let cases = [
            (vec![mapping(queue, "Enabled", 1)], MappingConflict::Made),
            (
                vec![mapping(queue, "Deleting", 1)],
                MappingConflict::BeingDeleted,
            ),
            (
                vec![mapping(queue, "Deleting", 7)],
                MappingConflict::BeingDeleted,
            ),
            (vec![other_queue.clone()], MappingConflict::Other),
            (vec![mapping(queue, "Enabled", 7)], MappingConflict::Other),
            (
                vec![mapping(queue, "Deleting", 1), mapping(queue, "Enabled", 7)],
                MappingConflict::Other,
            ),
            (
                vec![other_queue, mapping(queue, "Creating", 1)],
                MappingConflict::Made,
            ),
        ];
        for (existing, expected) in cases {
            assert_eq!(
                mapping_conflict(&existing, queue, &wanted),
                expected,
                "{existing:?}"
            );
        }
    }
}
