// Chaos scenarios stop and kill shared servers; the smoke tests time sockets. Neither wants neighbours.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
