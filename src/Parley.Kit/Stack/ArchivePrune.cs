namespace Parley.Kit.Stack;

/// <summary>
/// What <see cref="LocalStack.PruneBaseBackupsAsync"/> did: the base backups deleted and kept (newest first), the oldest archived
/// WAL file kept, and how many archive files and bytes went.
/// </summary>
public sealed record ArchivePrune(
    IReadOnlyList<string> RemovedBackups, IReadOnlyList<string> KeptBackups, string OldestWalKept, int ArchiveFilesRemoved, long BytesFreed);
