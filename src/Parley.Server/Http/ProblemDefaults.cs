using Microsoft.AspNetCore.Http;

namespace Parley.Server.Http;

/// <summary>
/// Fills what ASP.NET Core leaves empty so every problem has <c>type</c>, <c>title</c>, <c>status</c>
/// and <c>detail</c> (API.md): a type for statuses outside RFC 9110 and a detail for the
/// framework's own answers (unknown route, wrong method, wrong media type).
/// </summary>
public static class ProblemDefaults
{
    public static void Apply(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        problem.Type ??= status switch
        {
            StatusCodes.Status428PreconditionRequired => "https://www.rfc-editor.org/rfc/rfc6585#section-3",
            StatusCodes.Status429TooManyRequests => "https://www.rfc-editor.org/rfc/rfc6585#section-4",
            _ => "about:blank",
        };
        problem.Detail ??= status switch
        {
            StatusCodes.Status404NotFound => $"Nothing at {context.HttpContext.Request.Method} {context.HttpContext.Request.Path}; see API.md for the routes.",
            StatusCodes.Status405MethodNotAllowed => $"{context.HttpContext.Request.Method} is not allowed on {context.HttpContext.Request.Path}.",
            StatusCodes.Status415UnsupportedMediaType => "Send the body as application/json.",
            StatusCodes.Status400BadRequest => "The request is invalid.",
            _ => problem.Title,
        };
    }
}
