using System.Globalization;

namespace Parley.Server.Observability;

/// <summary>
/// Renders a measurement's tags as the inside of a Prometheus label set
/// (<c>a="x",b="y"</c>: names sanitised and sorted, values escaped, null values and repeated
/// names left out) into a per-thread buffer, so that the hot path can look a series up by the
/// rendered text without allocating. The rendered text is also the series key, so two tag sets
/// that print the same are one series by construction.
/// </summary>
internal sealed class LabelSetBuilder
{
    [ThreadStatic]
    private static LabelSetBuilder? t_current;

    private char[] _buffer = new char[256];
    private string?[] _names = new string?[8];
    private int[] _order = new int[8];
    private int _length;

    public static LabelSetBuilder Current => t_current ??= new LabelSetBuilder();

    /// <summary>Renders <paramref name="tags"/>; the result stays valid until the next call on this thread.</summary>
    /// <param name="tags">The measurement's tags.</param>
    /// <param name="histogram">True for a histogram, whose tag <c>le</c> becomes <c>le_</c> (Prometheus reserves <c>le</c> for bucket bounds).</param>
    public ReadOnlySpan<char> Build(ReadOnlySpan<KeyValuePair<string, object?>> tags, bool histogram = false)
    {
        _length = 0;
        if (tags.IsEmpty)
        {
            return default;
        }

        if (_names.Length < tags.Length)
        {
            _names = new string?[tags.Length];
            _order = new int[tags.Length];
        }

        int count = 0;
        for (int i = 0; i < tags.Length; i++)
        {
            if (tags[i].Value is null)
            {
                continue;
            }

            string name = PrometheusNaming.LabelName(tags[i].Key);
            if (histogram && name == "le")
            {
                name = "le_";
            }

            _names[i] = name;

            // Insertion sort of indices by label name: tag lists are short.
            int j = count++;
            while (j > 0 && string.CompareOrdinal(_names[_order[j - 1]], name) > 0)
            {
                _order[j] = _order[j - 1];
                j--;
            }

            _order[j] = i;
        }

        string? previous = null;
        for (int k = 0; k < count; k++)
        {
            int i = _order[k];
            string name = _names[i]!;
            if (name == previous)
            {
                continue;
            }

            if (previous is not null)
            {
                Append(',');
            }

            previous = name;
            Append(name);
            Append("=\"");
            AppendValue(tags[i].Value!);
            Append('"');
        }

        Array.Clear(_names, 0, tags.Length);
        return _buffer.AsSpan(0, _length);
    }

    /// <summary>A label value escaped for the text format: backslash, double quote and newline.</summary>
    public static string Escape(string value)
    {
        var builder = new LabelSetBuilder();
        builder.AppendEscaped(value);
        return new string(builder._buffer, 0, builder._length);
    }

    private void AppendValue(object value)
    {
        switch (value)
        {
            case string s:
                AppendEscaped(s);
                break;
            case bool b:
                Append(b ? "true" : "false");
                break;
            case double d:
                Append(PrometheusText.FormatDouble(d));
                break;
            case float f:
                Append(PrometheusText.FormatDouble(f));
                break;
            case ISpanFormattable formattable:
                AppendFormattable(formattable);
                break;
            default:
                AppendEscaped(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");
                break;
        }
    }

    private void AppendFormattable(ISpanFormattable value)
    {
        Span<char> scratch = stackalloc char[64];
        if (value.TryFormat(scratch, out int written, default, CultureInfo.InvariantCulture))
        {
            AppendEscaped(scratch[..written]);
        }
        else
        {
            AppendEscaped(value.ToString(null, CultureInfo.InvariantCulture));
        }
    }

    private void AppendEscaped(ReadOnlySpan<char> value)
    {
        Ensure(value.Length * 2);
        foreach (char c in value)
        {
            switch (c)
            {
                case '\\': _buffer[_length++] = '\\'; _buffer[_length++] = '\\'; break;
                case '"': _buffer[_length++] = '\\'; _buffer[_length++] = '"'; break;
                case '\n': _buffer[_length++] = '\\'; _buffer[_length++] = 'n'; break;
                default: _buffer[_length++] = c; break;
            }
        }
    }

    private void Append(ReadOnlySpan<char> text)
    {
        Ensure(text.Length);
        text.CopyTo(_buffer.AsSpan(_length));
        _length += text.Length;
    }

    private void Append(char c)
    {
        Ensure(1);
        _buffer[_length++] = c;
    }

    private void Ensure(int extra)
    {
        if (_length + extra > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + extra));
        }
    }
}
