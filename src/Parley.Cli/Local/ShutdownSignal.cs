using System.Runtime.InteropServices;

namespace Parley.Cli.Local;

/// <summary>
/// A token cancelled by Ctrl-C (SIGINT) or SIGTERM, which no longer end the process, so it can stop in order.
/// Create it before <c>LocalStack.StartAsync</c>: the stack's own Ctrl-C handler then sees the key press cancelled and
/// leaves the stack to be stopped after the server.
/// </summary>
public sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _cts;
    private readonly PosixSignalRegistration[] _registrations;

    public ShutdownSignal(CancellationToken linked = default)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(linked);
        Console.CancelKeyPress += OnCancelKeyPress;
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal)];
    }

    public CancellationToken Token => _cts.Token;

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        foreach (var registration in _registrations)
            registration.Dispose();
        _cts.Dispose();
    }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = true;
        _cts.Cancel();
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;
        _cts.Cancel();
    }
}
