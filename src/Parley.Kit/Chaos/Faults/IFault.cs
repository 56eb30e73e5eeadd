namespace Parley.Kit.Chaos.Faults;

/// <summary>A fault that can be switched on and off. <see cref="RemoveAsync"/> is idempotent and safe after a failed inject.</summary>
public interface IFault
{
    /// <summary>What it does, for reports (e.g. <c>replica proxy: timeout=0ms both ways</c>).</summary>
    string Description { get; }

    Task InjectAsync(CancellationToken ct = default);

    Task RemoveAsync(CancellationToken ct = default);
}
