using Parley.Data;

namespace Parley.Server.Http;

/// <summary>Problem+json results for the API's error cases (RFC 9457).</summary>
public static class Problems
{
    public static IResult Validation(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: "Invalid input", detail: message);

    public static IResult Status(int status, string title, string? detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

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
}
