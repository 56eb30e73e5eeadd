using System.Text;

namespace Parley.Server.Monitoring;

/// <summary>
/// Short, stable names for SQL text, used as the <c>query</c> label of <c>db_query_duration_seconds</c>.
/// A store names its query with a first line <c>-- name: conversation.list</c>; other SQL is named by
/// its first <see cref="MaxLength"/> characters, lower-cased, with comments dropped, whitespace
/// collapsed and literals replaced by <c>?</c>.
/// </summary>
public static class QueryNames
{
    /// <summary>The longest name produced.</summary>
    public const int MaxLength = 40;

    private const string NamePrefix = "-- name:";

    /// <summary>The name of <paramref name="sql"/>; pure, so stable across nodes and runs.</summary>
    public static string For(string? sql)
    {
        if (string.IsNullOrWhiteSpace(sql))
            return "empty";
        ReadOnlySpan<char> text = sql.AsSpan().TrimStart();
        if (text.StartsWith(NamePrefix, StringComparison.OrdinalIgnoreCase))
        {
            ReadOnlySpan<char> rest = text[NamePrefix.Length..];
            int end = rest.IndexOfAny('\r', '\n');
            string named = Clean(end < 0 ? rest : rest[..end]);
            if (named.Length > 0)
                return named;
        }
        return Normalise(text);
    }

    // Names: letters, digits and . _ - only.
    private static string Clean(ReadOnlySpan<char> raw)
    {
        var builder = new StringBuilder(MaxLength);
        foreach (char c in raw.Trim())
        {
            if (builder.Length == MaxLength)
                break;
            builder.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' ? char.ToLowerInvariant(c) : '_');
        }
        return builder.ToString();
    }

    private static string Normalise(ReadOnlySpan<char> sql)
    {
        var builder = new StringBuilder(MaxLength + 1);
        int i = 0;
        while (i < sql.Length && builder.Length < MaxLength)
        {
            char c = sql[i];
            if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                // Line comment: skip to the end of the line.
                while (i < sql.Length && sql[i] != '\n') i++;
                AppendSpace(builder);
                continue;
            }
            if (c == '\'')
            {
                // String literal ('' escapes a quote inside it).
                i++;
                while (i < sql.Length && !(sql[i] == '\'' && (i + 1 >= sql.Length || sql[i + 1] != '\''))) i += sql[i] == '\'' ? 2 : 1;
                i++;
                builder.Append('?');
                continue;
            }
            if (char.IsAsciiDigit(c) && (builder.Length == 0 || !char.IsAsciiLetterOrDigit(builder[^1]) && builder[^1] != '_' && builder[^1] != '$'))
            {
                while (i < sql.Length && (char.IsAsciiDigit(sql[i]) || sql[i] == '.')) i++;
                builder.Append('?');
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                AppendSpace(builder);
                i++;
                continue;
            }
            builder.Append(char.ToLowerInvariant(c));
            i++;
        }
        string name = builder.ToString().Trim();
        return name.Length == 0 ? "empty" : name;
    }

    private static void AppendSpace(StringBuilder builder)
    {
        if (builder.Length > 0 && builder[^1] != ' ')
            builder.Append(' ');
    }
}
