using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace Parley.Server.Features.WebClient;

/// <summary>
/// The browser client (plain JavaScript modules and CSS, no build step) served at <c>/</c> from the
/// <c>webclient</c> folder beside the server's assembly, so <c>parley up</c>, <c>parley serve</c>, a
/// server process and the tests all find it. Only files that exist are answered: every other path
/// (<c>/v1/*</c>, <c>/health/*</c>, <c>/metrics</c>, unknown routes) reaches routing as before.
/// </summary>
public static class WebClientFiles
{
    public const string Folder = "webclient";

    // The page talks only to its own origin (REST and /v1/ws); nothing inline, nothing third-party.
    private const string ContentSecurityPolicy =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        + "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

    public static WebApplication UseWebClient(this WebApplication app)
    {
        var root = Path.Combine(AppContext.BaseDirectory, Folder);
        if (!Directory.Exists(root)) return app; // a host without the client still serves the API
        var files = new PhysicalFileProvider(root);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            OnPrepareResponse = context =>
            {
                var headers = context.Context.Response.Headers;
                // Revalidated on every load (ETag), so a new server version's client is picked up at once.
                headers[HeaderNames.CacheControl] = "no-cache";
                headers[HeaderNames.XContentTypeOptions] = "nosniff";
                headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
                headers["Referrer-Policy"] = "no-referrer";
            },
        });
        return app;
    }
}
