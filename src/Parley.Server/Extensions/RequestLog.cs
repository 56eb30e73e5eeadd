using Microsoft.AspNetCore.HttpLogging;

namespace Parley.Server.Extensions;

/// <summary>
/// The request log. ASP.NET Core's hosting lines ("Request starting …") print the raw URL with its
/// query string, and a browser's WebSocket carries its access token there (<c>?access_token=</c>), so
/// they are filtered out (this rule, added in code after configuration, outranks a configured level
/// for the same category) and ASP.NET Core's HTTP logging, which never records a query string here,
/// writes one line per request instead: method, path, protocol, status, duration, at Information.
/// </summary>
public static class RequestLog
{
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public static WebApplicationBuilder AddParleyRequestLog(this WebApplicationBuilder builder)
    {
        builder.Logging.AddFilter(HostingCategory, LogLevel.Warning);
        builder.Services.AddHttpLogging(o =>
        {
            o.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath | HttpLoggingFields.RequestProtocol
                | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
            o.CombineLogs = true;
        });
        return builder;
    }
}
