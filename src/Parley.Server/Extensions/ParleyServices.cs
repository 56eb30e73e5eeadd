using System.Security.Cryptography;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Parley.Data;
using Parley.Data.Conversations;
using Parley.Data.Flags;
using Parley.Data.Routing;
using Parley.Server.Background;
using Parley.Server.Caching;
using Parley.Data.Messages;
using Parley.Data.Search;
using Parley.Data.Paging;
using Parley.Data.Users;
using Parley.Redis;
using Parley.Server.Auth;
using Parley.Server.Features.Health;
using Parley.Server.Features.Messages;
using Parley.Server.Http;
using Parley.Server.Http.Admission;
using Parley.Server.Observability;

namespace Parley.Server.Extensions;

public static class ParleyServices
{
    /// <summary>Registers everything the API needs, with options validated at start.</summary>
    public static WebApplicationBuilder AddParley(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddParleyOptions<DataOptions>().ValidateDataAnnotations().ValidateOnStart();
        services.AddParleyOptions<AuthOptions>().ValidateDataAnnotations()
            .Validate(o => TryKey(o), "Parley:Auth:SigningKey must be base64 of at least 32 bytes (parley up generates one).")
            .ValidateOnStart();

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new ParleyDatabase(sp.GetRequiredService<IOptions<DataOptions>>().Value));
        services.AddSingleton(sp => new CursorCodec(DeriveCursorKey(sp.GetRequiredService<IOptions<AuthOptions>>().Value)));
        services.AddParleyRedis();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<DataOptions>>().Value.Replica);
        services.AddSingleton<ReplicaBreaker>();
        services.AddSingleton<FeatureFlags>();
        services.AddSingleton<ReadRouter>();
        services.AddHostedService<SchemaVersionCheck>(); // first: nothing else starts on a schema this build does not know
        services.AddHostedService<FlagSyncService>();
        services.AddHostedService<SupervisorWatch>();
        services.AddParleyOptions<HealthOptions>();
        AddProbe<PrimaryProbe>(services);
        AddProbe<ReplicaProbe>(services);
        AddProbe<RedisProbe>(services);
        services.AddParleyOptions<CacheOptions>();
        services.AddSingleton<ReadCache>();
        services.AddSingleton<CachedReads>();
        services.AddSingleton<Parley.Server.Writes.AfterCommit>();
        services.AddSingleton<MembershipCache>();
        services.AddSingleton<MembershipSync>();
        services.AddHostedService(sp => sp.GetRequiredService<MembershipSync>());
        services.AddSingleton<ConversationAccess>();
        services.AddSingleton<UserStore>();
        services.AddSingleton<SessionStore>();
        services.AddSingleton<AdminRoles>();
        services.AddSingleton<ConversationStore>();
        services.AddSingleton(sp => new SendBatcher(sp.GetRequiredService<ParleyDatabase>(),
            sp.GetRequiredService<IOptions<DataOptions>>().Value.SendBatch, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SendBatcher>>()));
        services.AddSingleton<MessageStore>();
        services.AddSingleton<MessageSearch>();

        services.AddSingleton<IPasswordHasher<UserRecord>, PasswordHasher<UserRecord>>();
        services.AddOptions<PasswordHasherOptions>().Configure<IOptions<AuthOptions>>((hasher, auth) => hasher.IterationCount = auth.Value.PasswordHashIterations);
        services.AddSingleton<PasswordHashing>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<SessionRevocations>();
        services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddSendRateLimit();
        services.AddAdmissionControl();

        services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemDefaults.Apply);
        services.AddParleyApiDocs();
        services.AddReadinessDocs();
        services.AddExceptionHandler<ExceptionProblems>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.Converters.Add(new UtcMillisecondsConverter());
            // {"body":"a","body":"b"} is ambiguous (proxies and validators may read the other one): 400.
            o.SerializerOptions.AllowDuplicateProperties = false;
            // The web defaults read "50" as a number; a number is a number.
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = Limits.RequestBodyBytes;
            if (DescriptorBudget.Split(DescriptorBudget.OpenFileLimit()) is var (connections, upgraded))
                (k.Limits.MaxConcurrentConnections, k.Limits.MaxConcurrentUpgradedConnections) = (connections, upgraded);
        });
        // A flood over those limits would log a warning per connection, and a console held up by a slow reader blocks the very
        // dispatch that closes them; kestrel_rejected_connections counts them instead.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel.Connections", LogLevel.Error);

        services.AddHealthChecks().AddCheck<ProbeHealthCheck<PrimaryProbe>>("primary")
            .AddCheck<ProbeHealthCheck<ReplicaProbe>>("replica")
            .AddCheck<ProbeHealthCheck<RedisProbe>>("redis");
        services.AddPrometheusExporter();
        builder.AddParleyRequestLog();
        builder.AddParleyRealtime();
        builder.AddParleyMonitoring();
        return builder;
    }

    /// <summary>
    /// One multiplexed Redis connection per process (<c>Parley:Redis</c>); it reconnects by itself, so a
    /// Redis that is down at start does not stop the process. The observer shares it.
    /// </summary>
    public static IServiceCollection AddParleyRedis(this IServiceCollection services)
    {
        services.AddParleyOptions<RedisOptions>().PostConfigure(o => o.AbortOnConnectFail = false);
        services.AddSingleton(sp => RedisClient.ConnectAsync(
            sp.GetRequiredService<IOptions<RedisOptions>>().Value, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Parley.Redis")).GetAwaiter().GetResult());
        return services;
    }

    private static void AddProbe<TProbe>(IServiceCollection services) where TProbe : DependencyProbe
    {
        services.AddSingleton<TProbe>();
        services.AddHostedService(sp => sp.GetRequiredService<TProbe>());
    }

    private static bool TryKey(AuthOptions o)
    {
        try
        {
            o.KeyBytes();
            return true;
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            return false;
        }
    }

    // Cursors get their own key, derived from the signing key, so one secret serves both.
    private static byte[] DeriveCursorKey(AuthOptions auth) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, auth.KeyBytes(), 32, info: "parley-cursor-v1"u8.ToArray());
}
