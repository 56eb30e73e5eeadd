using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Parley.Data.Paging;

namespace Parley.Server.Http;

/// <summary>
/// Turns exceptions into problem+json: bad requests keep their 4xx, an unavailable dependency is a
/// 503 with Retry-After, anything else a 500 without internals.
/// </summary>
public sealed partial class ExceptionProblems(IProblemDetailsService problems, ILogger<ExceptionProblems> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        var (status, title, detail) = Classify(exception);
        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            http.Response.Headers.RetryAfter = "1";
            LogUnavailable(logger, http.Request.Path, exception.Message);
        }
        else if (status == StatusCodes.Status500InternalServerError)
        {
            LogUnexpected(logger, exception, http.Request.Path);
        }
        http.Response.StatusCode = status;
        var problem = Field(exception) is { } field
            ? new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [detail] })
            : new ProblemDetails();
        (problem.Status, problem.Title, problem.Detail) = (status, title, detail);
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, Exception = exception, ProblemDetails = problem });
    }

    /// <summary>
    /// The field a 400 is about, for the problem's <c>errors</c>: the JSON path of a body that did not
    /// bind (wrong type, lone surrogate escape, invalid UTF-8, too deep), without its <c>$.</c>; the cursor.
    /// </summary>
    public static string? Field(Exception e) => e switch
    {
        BadHttpRequestException { StatusCode: 400, InnerException: System.Text.Json.JsonException { Path: { } path } } =>
            path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path,
        InvalidCursorException => "cursor",
        _ => null,
    };

    public static (int Status, string Title, string Detail) Classify(Exception e) => e switch
    {
        BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 413 ? "Payload too large" : "Invalid request", Describe(bad)),
        InvalidCursorException cursor => (400, "Invalid cursor", cursor.Message),
        _ when IsUnavailable(e) => (503, "Service unavailable", "A dependency is unavailable; retry shortly."),
        _ => (500, "Internal error", "The server failed to handle this request."),
    };

    /// <summary>Failures that a retry may cure: the database unreachable, the pool exhausted, a timeout, a shutdown.</summary>
    public static bool IsUnavailable(Exception e) => e switch
    {
        // Class 08 covers connection failures, including PgBouncer's query_wait_timeout (08P01); class 53 the server out of a resource
        // (disk full, memory, connections); 57P a server shutting down or restarting after a crash; 58 its I/O failing.
        PostgresException pg => pg.IsTransient || pg.SqlState.Length == 5 && (pg.SqlState[..2] is "08" or "53" or "58" || pg.SqlState[..3] == "57P")
            || pg.SqlState is PostgresErrorCodes.QueryCanceled or PostgresErrorCodes.ReadOnlySqlTransaction,
        // "No suitable host was found": a multi-host connection string (Target Session Attributes) found no writable server, as
        // between a primary's loss and its replica's promotion; "Unable to connect to a suitable host" holds why in its inner exceptions.
        NpgsqlException npg => npg.IsTransient || npg.InnerException is TimeoutException or System.Net.Sockets.SocketException
            || npg.Message.Contains("pool", StringComparison.OrdinalIgnoreCase) || npg.Message.StartsWith("No suitable host", StringComparison.Ordinal)
            || npg.InnerException is { } inner && IsUnavailable(inner),
        TimeoutException => true,
        OperationCanceledException => true,
        _ => e.InnerException is not null && IsUnavailable(e.InnerException),
    };

    private static string Describe(BadHttpRequestException bad)
    {
        // The JSON reader's message names the path and position of the fault; keep that, not the stack.
        var json = bad.InnerException as System.Text.Json.JsonException;
        return json is null ? bad.Message : $"{bad.Message} {json.Message}";
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "Dependency unavailable on {Path}: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Unhandled exception on {Path}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string path);
}
