using System.Globalization;

namespace Parley.Kit.Load.Http;

/// <summary>
/// How .NET's socket engine should run for a load generator: completions handled on its own event threads, one per
/// core (as wrk's event loops do), instead of each handed to the thread pool. That hand-off (a queue, a wake-up,
/// spinning workers) cost more CPU per request than the request itself on this 2-core machine, CPU the server under
/// test then lacks (bench/wrk-compare.sh). The engine reads these settings once, at the process's first socket
/// operation, so this only takes effect when called before it; a value already in the environment is left alone
/// (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0</c> turns it off). Code running on those threads must not block:
/// the kit's request path and scenarios only await.
/// </summary>
public static class SocketEngine
{
    public const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
    public const string ThreadCount = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

    public static void PreferEventLoops()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletions) is null) Environment.SetEnvironmentVariable(InlineCompletions, "1");
        if (Environment.GetEnvironmentVariable(ThreadCount) is null)
            Environment.SetEnvironmentVariable(ThreadCount, Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture));
    }
}
