using Parley.Redis.Internal;

namespace Parley.Redis;

/// <summary>Lua scripts.</summary>
public sealed partial class RedisClient
{
    /// <summary>
    /// Runs <paramref name="script"/> with <c>EVALSHA</c>, falling back to <c>EVAL</c> (which caches
    /// it) when the server answers <c>NOSCRIPT</c>. Arguments as for <see cref="ExecuteAsync(string, IReadOnlyList{object}?, TimeSpan?, CancellationToken)"/>.
    /// </summary>
    public async Task<RespValue> EvalAsync(
        LuaScript script,
        IReadOnlyList<string>? keys = null,
        IReadOnlyList<object>? args = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        try
        {
            return await SendAsync(ScriptCommand("EVALSHA", script, keys, args), null, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Prefix == "NOSCRIPT")
        {
            LogMessages.ScriptReloaded(_connection.Logger, script.Sha1);
            return await SendAsync(ScriptCommand("EVAL", script, keys, args), null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary><c>SCRIPT LOAD</c>; returns the SHA1 the server computed (equal to <see cref="LuaScript.Sha1"/>).</summary>
    public async Task<string> ScriptLoadAsync(LuaScript script, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(script);
        var reply = await SendAsync(Command("SCRIPT", 2).WriteBulk("LOAD").WriteBulk(script.SourceBytes), null, cancellationToken).ConfigureAwait(false);
        return reply.AsString()!;
    }

    private static RespWriter ScriptCommand(string name, LuaScript script, IReadOnlyList<string>? keys, IReadOnlyList<object>? args)
    {
        var keyCount = keys?.Count ?? 0;
        var command = Command(name, 2 + keyCount + (args?.Count ?? 0));
        try
        {
            if (name == "EVAL")
            {
                command.WriteBulk(script.SourceBytes);
            }
            else
            {
                command.WriteBulk(script.Sha1);
            }

            command.WriteBulk(keyCount);
            for (var i = 0; i < keyCount; i++)
            {
                command.WriteBulk(keys![i]);
            }

            for (var i = 0; i < (args?.Count ?? 0); i++)
            {
                command.WriteArgument(args![i]);
            }
        }
        catch
        {
            command.Dispose();
            throw;
        }

        return command;
    }
}
