using System.CommandLine;
using System.Globalization;

namespace Parley.Cli;

public static class OptionRanges
{
    /// <summary>Rejects values outside [min, max] as a usage error. Values that are not numbers are left to the parser's own error.</summary>
    public static Option<int> InRange(this Option<int> option, int min, int max)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens is [var token] && int.TryParse(token.Value, CultureInfo.InvariantCulture, out var value) && (value < min || value > max))
                result.AddError($"{option.Name} must be {min}-{max}, not {value}.");
        });
        return option;
    }
}
