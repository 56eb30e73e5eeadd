using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data;
using Parley.Server.Auth;

namespace Parley.Cli.Configuration;

/// <summary>One finding of <see cref="ConfigValidator"/>; errors make the configuration invalid, warnings do not.</summary>
public sealed record ConfigProblem(string Key, string Message, bool IsError)
{
    public string Severity => IsError ? "error" : "warning";
}

/// <summary><c>Parley:Redis</c>; the server does not read it yet, <c>parley up</c> already sets it.</summary>
public sealed class RedisSettings
{
    public const string Section = "Parley:Redis";

    /// <summary><c>host:port</c> of the Redis server.</summary>
    public string? Endpoint { get; set; }
}

/// <summary>
/// Checks a configuration the way a server start would, and more: required keys, the signing key, connection strings
/// that parse, value ranges, and keys under <c>Parley:</c> that nothing reads (errors with strict, else warnings).
/// </summary>
public static class ConfigValidator
{
    /// <summary>Every section under <c>Parley:</c> and the options class bound to it. Add a line here with each new options class.</summary>
    private static readonly IReadOnlyDictionary<string, Type> Sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase)
    {
        [DataOptions.Section] = typeof(DataOptions),
        [AuthOptions.Section] = typeof(AuthOptions),
        [RedisSettings.Section] = typeof(RedisSettings),
        [Parley.Server.Caching.CacheOptions.Section] = typeof(Parley.Server.Caching.CacheOptions),
        [Parley.Server.Monitoring.MonitoringOptions.Section] = typeof(Parley.Server.Monitoring.MonitoringOptions),
        [Parley.Server.Delivery.NodeOptions.Section] = typeof(Parley.Server.Delivery.NodeOptions),
        [Parley.Server.Delivery.DeliveryOptions.Section] = typeof(Parley.Server.Delivery.DeliveryOptions),
        [Parley.Server.Features.Messages.SendRateOptions.Section] = typeof(Parley.Server.Features.Messages.SendRateOptions),
    };

    private const string PrimaryKey = DataOptions.Section + ":" + nameof(DataOptions.PrimaryConnectionString);
    private const string ReplicaKey = DataOptions.Section + ":" + nameof(DataOptions.ReplicaConnectionString);
    private const string SigningKeyKey = AuthOptions.Section + ":" + nameof(AuthOptions.SigningKey);
    private const string RedisKey = RedisSettings.Section + ":" + nameof(RedisSettings.Endpoint);

    public static IReadOnlyList<ConfigProblem> Validate(IConfiguration configuration, bool strict)
    {
        var problems = new List<ConfigProblem>();
        CheckConnectionString(configuration, PrimaryKey, required: true, problems);
        CheckConnectionString(configuration, ReplicaKey, required: false, problems);
        CheckSigningKey(configuration[SigningKeyKey], problems);
        CheckRedisEndpoint(configuration[RedisKey], problems);
        foreach (var (section, type) in Sections)
            CheckBindsAndRanges(configuration.GetSection(section), type, problems);
        CheckUnknownKeys(configuration, strict, problems);
        return problems;
    }

    private static void CheckConnectionString(IConfiguration configuration, string key, bool required, List<ConfigProblem> problems)
    {
        var value = configuration[key];
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
                problems.Add(new(key, "is missing", IsError: true));
            return;
        }
        try
        {
            if (string.IsNullOrWhiteSpace(new NpgsqlConnectionStringBuilder(value).Host))
                problems.Add(new(key, "names no Host", IsError: true));
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            problems.Add(new(key, $"does not parse: {e.Message}", IsError: true));
        }
    }

    private static void CheckSigningKey(string? key, List<ConfigProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(key))
            problems.Add(new(SigningKeyKey, $"is missing (base64 of at least {SigningKeys.MinimumBytes} random bytes; `parley up` generates one)", IsError: true));
        else if (!SigningKeys.IsValid(key, out var problem))
            problems.Add(new(SigningKeyKey, problem, IsError: true));
    }

    private static void CheckRedisEndpoint(string? endpoint, List<ConfigProblem> problems)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
            return;
        var colon = endpoint.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(endpoint[(colon + 1)..], out var port) || port is < 1 or > 65535)
            problems.Add(new(RedisKey, $"'{endpoint}' is not host:port", IsError: true));
    }

    /// <summary>Values that do not convert (e.g. "abc" for a number) and values out of their [Range].</summary>
    private static void CheckBindsAndRanges(IConfigurationSection section, Type type, List<ConfigProblem> problems)
    {
        object? options;
        try
        {
            options = section.Get(type);
        }
        catch (InvalidOperationException e)
        {
            problems.Add(new(section.Path, e.Message, IsError: true));
            return;
        }
        if (options is null)
            return;
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        // Missing required values are reported above with a better message.
        foreach (var result in results.Where(r => !r.ErrorMessage!.Contains("required", StringComparison.OrdinalIgnoreCase)))
        {
            foreach (var member in result.MemberNames.DefaultIfEmpty(""))
                problems.Add(new($"{section.Path}:{member}", result.ErrorMessage!, IsError: true));
        }
    }

    private static void CheckUnknownKeys(IConfiguration configuration, bool strict, List<ConfigProblem> problems)
    {
        var unknown = configuration.AsEnumerable()
            .Where(pair => pair.Value is not null && pair.Key.StartsWith("Parley:", StringComparison.OrdinalIgnoreCase) && !IsKnown(pair.Key))
            .Select(pair => pair.Key)
            .Order(StringComparer.OrdinalIgnoreCase);
        foreach (var key in unknown)
            problems.Add(new(key, strict ? "is not a Parley setting" : "is not a Parley setting (an error with --strict)", IsError: strict));
    }

    private static bool IsKnown(string key)
    {
        var segments = key.Split(':');
        if (segments.Length < 3 || !Sections.TryGetValue($"{segments[0]}:{segments[1]}", out var type))
            return false;
        var property = type.GetProperty(segments[2], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        return segments.Length == 3 && property is { CanWrite: true };
    }
}
