namespace Parley.Redis;

/// <summary>Base type of every error this client raises.</summary>
public class RedisException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RedisException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    /// <summary>
    /// True when retrying the same command later may succeed: the connection broke or the command
    /// timed out. Server errors (wrong type, syntax, NOSCRIPT) are not transient.
    /// </summary>
    public virtual bool IsTransient => false;
}

/// <summary>
/// The connection is down, broke while the command was in flight, or could not be made. Whether an
/// in-flight command ran on the server is unknown.
/// </summary>
public sealed class RedisConnectionException : RedisException
{
    /// <summary>Creates the exception.</summary>
    public RedisConnectionException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    /// <inheritdoc />
    public override bool IsTransient => true;
}

/// <summary>No reply arrived within the command timeout. The connection stays usable.</summary>
public sealed class RedisTimeoutException : RedisException
{
    /// <summary>Creates the exception.</summary>
    public RedisTimeoutException(string message) : base(message)
    {
    }

    /// <inheritdoc />
    public override bool IsTransient => true;
}

/// <summary>Redis answered with an error reply, such as <c>NOSCRIPT ...</c> or <c>BUSYGROUP ...</c>.</summary>
public sealed class RedisServerException : RedisException
{
    /// <summary>Creates the exception from the full error text (prefix, space, message).</summary>
    public RedisServerException(string error) : base(error)
    {
        var space = error.IndexOf(' ', StringComparison.Ordinal);
        Prefix = space > 0 ? error[..space] : error;
    }

    /// <summary>The first word of the error: <c>ERR</c>, <c>WRONGTYPE</c>, <c>NOSCRIPT</c>, <c>BUSYGROUP</c>...</summary>
    public string Prefix { get; }
}

/// <summary>The bytes received are not valid RESP2, or break a configured limit.</summary>
public sealed class RespProtocolException : RedisException
{
    /// <summary>Creates the exception.</summary>
    public RespProtocolException(string message) : base(message)
    {
    }
}
