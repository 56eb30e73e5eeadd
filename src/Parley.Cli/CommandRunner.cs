using System.CommandLine;
using Microsoft.Extensions.Options;
using Parley.Kit.Stack;

namespace Parley.Cli;

/// <summary>Wraps command handlers so failures map to <see cref="ExitCodes"/> the same way everywhere.</summary>
public static class CommandRunner
{
    public static void SetHandler(this Command command, GlobalOptions global, Func<ParseResult, CliContext, CancellationToken, Task<int>> handler) =>
        command.SetAction((result, ct) => RunAsync(result, global, handler, ct));

    private static async Task<int> RunAsync(
        ParseResult result, GlobalOptions global, Func<ParseResult, CliContext, CancellationToken, Task<int>> handler, CancellationToken ct)
    {
        var error = result.InvocationConfiguration.Error;
        try
        {
            return await handler(result, CliContext.From(result, global), ct);
        }
        catch (MissingBinaryException e)
        {
            await error.WriteLineAsync($"parley: {e.Message}");
            return ExitCodes.MissingBinary;
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"parley: {e.Message}");
            return e.ExitCode;
        }
        catch (OptionsValidationException e)
        {
            await error.WriteLineAsync($"parley: invalid configuration: {string.Join("; ", e.Failures)} (see `parley config check`)");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("parley: interrupted");
            return ExitCodes.Interrupted;
        }
        catch (StackStartException e)
        {
            await error.WriteLineAsync($"parley: the local stack did not start: {e.Message}");
            return ExitCodes.Failure;
        }
    }
}
