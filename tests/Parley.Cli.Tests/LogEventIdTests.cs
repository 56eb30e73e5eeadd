using System.Text.RegularExpressions;

namespace Parley.Cli.Tests;

/// <summary>
/// Log event ids are what operators filter and alert on: within one project each names one message. Read from the
/// sources because [LoggerMessage] is not kept in the compiled assemblies.
/// </summary>
[Trait("Category", "Smoke")]
public sealed partial class LogEventIdTests
{
    [GeneratedRegex(@"\[LoggerMessage\(EventId = (\d+)")]
    private static partial Regex EventId();

    [Fact]
    public void Every_log_event_id_names_one_message_in_its_project()
    {
        var src = Path.Combine(Commands.LoadCommand.RepoRoot(), "src");
        var uses = Directory.EnumerateDirectories(src)
            .SelectMany(project => Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
                .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                .SelectMany(file => EventId().Matches(File.ReadAllText(file)).Select(m => (Project: Path.GetFileName(project), Id: m.Groups[1].Value, File: Path.GetFileName(file)))))
            .ToList();

        var twice = uses.GroupBy(u => (u.Project, u.Id)).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key.Project} event {g.Key.Id}: {string.Join(", ", g.Select(u => u.File))}").ToList();

        Assert.True(uses.Count > 50, $"found only {uses.Count} event ids: is the source tree where the test looks?");
        Assert.Empty(twice);
    }
}
