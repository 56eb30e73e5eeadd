using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Parley.Server.Http;

/// <summary>
/// The API's OpenAPI document at <c>/openapi/v1.json</c> (ASP.NET Core's own generator). Each route declares its
/// success type and the problem+json statuses it may answer beside its mapping: a handler's problems
/// (<see cref="Problems"/>) choose their status from a store's outcome at run time, which no <c>Results&lt;…&gt;</c> type
/// can name, so the generator could not infer them.
/// </summary>
public static class ApiDocs
{
    public const string DocumentName = "v1";

    private static readonly string[] ProblemJson = ["application/problem+json"];

    /// <summary>Each of <paramref name="statuses"/> may be answered as a problem (RFC 9457) by these endpoints.</summary>
    public static TBuilder MayAnswer<TBuilder>(this TBuilder builder, params int[] statuses) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata([.. statuses.Select(s => (object)new ProducesResponseTypeMetadata(s, typeof(ProblemDetails), ProblemJson))]);

    public static IServiceCollection AddParleyApiDocs(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Parley",
                Version = DocumentName,
                Description = "Parley's chat API: errors are application/problem+json (RFC 9457); every /v1 route but /v1/auth needs 'Authorization: Bearer <accessToken>'.",
            };
            return Task.CompletedTask;
        }));

    public static WebApplication MapParleyApiDocs(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous().ExcludeFromDescription();
        return app;
    }
}
