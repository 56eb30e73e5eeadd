using System.Net;
using System.Text.Json;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

/// <summary>
/// <c>/openapi/v1.json</c> describes the API as API.md does: every path and method of its tables, with its success
/// status and every error status it lists, and no route that API.md (or Parley's additions below) does not name.
/// </summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class OpenApiDocumentTests(ParleyFixture fixture)
{
    // ../shared/API.md's tables (2026-12-02): method, path (route parameters as OpenAPI writes them), statuses.
    public static TheoryData<string, string, int[]> ApiMd => new()
    {
        { "post", "/v1/auth/register", [201, 400, 409] },
        { "post", "/v1/auth/login", [200, 401, 429] },
        { "get", "/v1/me", [200, 401] },
        { "post", "/v1/auth/refresh", [200, 401] },
        { "post", "/v1/auth/logout", [204, 401] },
        { "post", "/v1/conversations", [201, 400, 401] },
        { "get", "/v1/conversations", [200, 401] },
        { "get", "/v1/conversations/{id}", [200, 403, 404] },
        { "patch", "/v1/conversations/{id}", [200, 403, 404, 409, 428] },
        { "delete", "/v1/conversations/{id}", [204, 403, 404] },
        { "get", "/v1/conversations/{id}/participants", [200, 403, 404] },
        { "post", "/v1/conversations/{id}/participants", [201, 403, 404, 409] },
        { "delete", "/v1/conversations/{id}/participants/{userId}", [204, 403, 404] },
        { "post", "/v1/conversations/{id}/messages", [201, 200, 400, 403, 404, 413] },
        { "get", "/v1/conversations/{id}/messages", [200, 403, 404] },
        { "post", "/v1/conversations/{id}/read", [204, 403, 404] },
        { "get", "/v1/search/messages", [200, 401] },
        { "get", "/v1/ws", [101, 401] },
        { "get", "/health/live", [200] },
        { "get", "/health/ready", [200, 503] },
        { "get", "/v1/admin/flags", [200, 403] },
        { "put", "/v1/admin/flags/{name}", [200, 403] },
    };

    // Routes Parley adds to API.md (allowed by it: "add freely"): user lookup by handle and by id.
    private static readonly string[] Additions = ["get /v1/users", "get /v1/users/{id}"];

    private async Task<JsonElement> DocumentAsync()
    {
        using var api = fixture.Client();
        using var response = await api.Http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Theory]
    [MemberData(nameof(ApiMd))]
    public async Task Each_route_of_API_md_is_described_with_its_statuses(string method, string path, int[] statuses)
    {
        var document = await DocumentAsync();
        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var item), $"{path} is not in the document");
        Assert.True(item.TryGetProperty(method, out var operation), $"{method} {path} is not in the document");
        var described = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToHashSet();
        Assert.All(statuses, s => Assert.Contains(s.ToString(System.Globalization.CultureInfo.InvariantCulture), described));
    }

    [Fact]
    public async Task The_document_names_no_route_outside_API_md_and_errors_are_problem_json()
    {
        var document = await DocumentAsync();
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString());
        var documented = ApiMd.Select(row => $"{row[0]} {row[1]}").Concat(Additions).ToHashSet();
        var described = document.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(m => $"{m.Name} {p.Name}")).ToList();
        Assert.Empty(described.Except(documented));
        // A problem answer names its media type, so a client generated from the document parses RFC 9457 bodies.
        var notFound = document.GetProperty("paths").GetProperty("/v1/conversations/{id}").GetProperty("get").GetProperty("responses").GetProperty("404");
        Assert.True(notFound.GetProperty("content").TryGetProperty("application/problem+json", out _));
        // A success names its schema: a conversation has the fields API.md gives it.
        var ok = document.GetProperty("paths").GetProperty("/v1/conversations/{id}").GetProperty("get").GetProperty("responses").GetProperty("200");
        Assert.True(ok.GetProperty("content").GetProperty("application/json").TryGetProperty("schema", out _));
    }
}
