using Parley.Data;
using Parley.Server.Caching;

namespace Parley.Server.Http;

/// <summary>Problem+json results for the API's error cases (RFC 9457).</summary>
public static class Problems
{
    public static IResult Validation(string field, string message) => Validation(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary>A 400 with <c>errors: {field: [messages]}</c>; the detail repeats the messages.</summary>
    public static IResult Validation(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "Invalid input", detail: string.Join(" ", errors.Values.SelectMany(m => m)));

    public static IResult Status(int status, string title, string? detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

    /// <summary>Writes a refusal from middleware, before any endpoint ran: the problem and <c>Retry-After</c> in seconds.</summary>
    public static async ValueTask RefuseAsync(HttpContext http, int status, string type, string title, string detail, int retryAfterSeconds)
    {
        http.Response.StatusCode = status;
        http.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = status, Type = type, Title = title, Detail = detail },
        });
    }

    /// <summary>422: the sender used this clientMessageId before, for another body; <c>messageId</c> is the stored message.</summary>
    public static IResult ClientMessageIdReused(Guid messageId) => TypedResults.Problem(
        detail: $"clientMessageId was used for message {messageId} with a different body; use a new clientMessageId for new text.",
        statusCode: StatusCodes.Status422UnprocessableEntity, title: "clientMessageId reused for another body",
        type: ProblemTypes.ClientMessageIdReused, extensions: new Dictionary<string, object?> { ["messageId"] = messageId });

    public static IResult TooLarge(string detail) => Status(StatusCodes.Status413PayloadTooLarge, "Payload too large", detail);

    /// <summary>Maps a store outcome onto the response: <paramref name="ok"/> on success, a problem otherwise.</summary>
    public static IResult From<T>(Outcome<T> outcome, Func<T, IResult> ok) => outcome.Status switch
    {
        OutcomeStatus.Ok => ok(outcome.Value!),
        OutcomeStatus.NotFound => Status(StatusCodes.Status404NotFound, "Not found", outcome.Detail),
        OutcomeStatus.Forbidden => Status(StatusCodes.Status403Forbidden, "Forbidden", outcome.Detail),
        OutcomeStatus.Conflict => Status(StatusCodes.Status409Conflict, "Conflict", outcome.Detail),
        _ => Status(StatusCodes.Status400BadRequest, "Invalid input", outcome.Detail),
    };

    /// <summary>A cached read's outcome: cached JSON written as it is (never re-serialised), a value as JSON, a problem otherwise.</summary>
    public static IResult From<T>(Outcome<Cached<T>> outcome) =>
        From(outcome, read => read.Json is { } json ? TypedResults.Bytes(json, JsonContentType) : TypedResults.Ok(read.Value));

    private const string JsonContentType = "application/json; charset=utf-8";
}
