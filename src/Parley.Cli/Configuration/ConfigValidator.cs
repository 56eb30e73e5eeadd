using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data;
using Parley.Observer;
using Parley.Redis;
using Parley.Server.Auth;
using Parley.Server.Extensions;

namespace Parley.Cli.Configuration;

/// <summary>One finding of <see cref="ConfigValidator"/>; errors make the configuration invalid, warnings do not.</summary>
public sealed record ConfigProblem(string Key, string Message, bool IsError)
{
    public string Severity => IsError ? "error" : "warning";
}

/// <summary>
/// Checks a configuration the way a server start would, and more: required keys, the signing key, connection strings
/// that parse, value ranges, and keys under <c>Parley:</c> that nothing reads (errors with strict, else warnings).
/// </summary>
public static class ConfigValidator
{
    /// <summary>The server's and the observer's own tables of sections (section → options class), so they never disagree.</summary>
    private static readonly IReadOnlyDictionary<string, Type> Sections =
        ParleySettings.Sections.Concat(ObserverSettings.Sections).ToDictionary(pair => pair.Value, pair => pair.Key, StringComparer.OrdinalIgnoreCase);

    private const string PrimaryKey = DataOptions.Section + ":" + nameof(DataOptions.PrimaryConnectionString);
    private const string ReplicaKey = DataOptions.Section + ":" + nameof(DataOptions.ReplicaConnectionString);
    private const string SigningKeyKey = AuthOptions.Section + ":" + nameof(AuthOptions.SigningKey);
    private const string RedisKey = ParleySettings.RedisSection + ":" + nameof(RedisOptions.Endpoint);

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
        try
        {
            RedisOptions.ParseAddress(endpoint, RedisKey);
        }
        catch (ArgumentException e)
        {
            problems.Add(new(RedisKey, e.Message, IsError: true));
        }
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

    /// <summary>Whether <paramref name="key"/> is a whole section (<c>Parley:Observer:Smtp</c>), not one setting.</summary>
    public static bool IsSection(string key) => Sections.ContainsKey(key);

    /// <summary>
    /// Whether <paramref name="key"/> names a settable property of its section's options class, walking nested
    /// options (<c>Parley:Data:Replica:MaxLagSeconds</c>).
    /// </summary>
    public static bool IsKnown(string key)
    {
        var segments = key.Split(':');
        // The longest section the key is under: Parley:Observer:Smtp:Host is SmtpOptions.Host, not ObserverOptions.Smtp.
        var start = segments.Length - 1;
        Type? type = null;
        while (start >= 2 && !Sections.TryGetValue(string.Join(':', segments[..start]), out type))
            start--;
        if (type is null)
            return false;
        for (var i = start; i < segments.Length; i++)
        {
            var property = type.GetProperty(segments[i], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
                return false;
            if (i == segments.Length - 1)
                return property.CanWrite && IsValue(property.PropertyType);
            // A list of values binds from numbered keys: Parley:Monitoring:VacuumTables:0.
            if (IsValueList(property.PropertyType))
                return property.CanWrite && i == segments.Length - 2 && int.TryParse(segments[i + 1], out var index) && index >= 0;
            if (IsValue(property.PropertyType))
                return false;
            type = property.PropertyType;
        }
        return false;
    }

    private static bool IsValueList(Type type) =>
        type.IsArray ? IsValue(type.GetElementType()!)
        : type.IsGenericType && type.GetGenericArguments() is [var item] && IsValue(item)
            && typeof(System.Collections.IEnumerable).IsAssignableFrom(type);

    /// <summary>A setting holds one value (a number, a string, a duration, an enum), not a nested options object.</summary>
    private static bool IsValue(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(DateTimeOffset);
    }
}
