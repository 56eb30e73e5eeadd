using System.Globalization;

namespace Parley.Kit.Nightly;

/// <summary>Every night's summary, one file per run: <c>&lt;dir&gt;/&lt;yyyyMMdd-HHmmss&gt;.json</c>; the report's trends come from here.</summary>
public sealed class NightlyHistory(string directory)
{
    public const int Nights = 7;

    public string Directory { get; } = directory;

    public string Record(NightlySummary night)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, night.StartedAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".json");
        File.WriteAllText(path, night.ToJson());
        return path;
    }

    /// <summary>The last <see cref="Nights"/> nights run at the same scale (a shortened run is not compared with full nights), oldest first.</summary>
    public IReadOnlyList<NightlySummary> Recent(double scale)
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        return System.IO.Directory.EnumerateFiles(Directory, "*.json").Select(p => NightlySummary.FromJson(File.ReadAllText(p)))
            .Where(n => Math.Abs(n.Scale - scale) < 1e-9).OrderBy(n => n.StartedAt).TakeLast(Nights).ToList();
    }
}
