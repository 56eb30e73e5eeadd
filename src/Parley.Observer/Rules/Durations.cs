using System.Globalization;
using System.Text.RegularExpressions;

namespace Parley.Observer.Rules;

/// <summary>Durations as the rules file writes them: a whole number and a unit, <c>ms s m h d</c> (<c>250ms</c>, <c>5s</c>, <c>30m</c>, <c>10h</c>).</summary>
public static partial class Durations
{
    [GeneratedRegex("^(?<n>[0-9]{1,9})(?<unit>ms|s|m|h|d)$")]
    private static partial Regex Pattern();

    public static bool TryParse(string text, out TimeSpan value)
    {
        var m = Pattern().Match(text);
        value = default;
        if (!m.Success) return false;
        var n = long.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        value = m.Groups["unit"].Value switch
        {
            "ms" => TimeSpan.FromMilliseconds(n),
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
        return true;
    }
}
