using Microsoft.Extensions.Configuration;

namespace Parley.Cli.Configuration;

/// <summary>The configuration a Parley server would see outside <c>up</c>: a JSON file (appsettings.json by default) and the environment.</summary>
public static class ParleyConfiguration
{
    public const string DefaultFile = "appsettings.json";

    /// <summary>
    /// Loads <paramref name="file"/> (must exist when given; <see cref="DefaultFile"/> in the current directory is optional)
    /// then environment variables (<c>Parley__Data__...</c>), as ASP.NET Core layers them.
    /// </summary>
    public static IConfigurationRoot Load(string? file, bool environment = true)
    {
        var builder = new ConfigurationBuilder();
        var path = Path.GetFullPath(file ?? DefaultFile);
        if (file is not null && !File.Exists(path))
            throw new CliException(ExitCodes.Usage, $"configuration file {path} does not exist");
        try
        {
            builder.AddJsonFile(path, optional: true, reloadOnChange: false);
            if (environment)
                builder.AddEnvironmentVariables();
            return builder.Build();
        }
        catch (InvalidDataException e)
        {
            throw new CliException(ExitCodes.Usage, $"{path} is not valid JSON: {e.InnerException?.Message ?? e.Message}");
        }
    }
}
