using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Parley.Observer.Rules;

namespace Parley.Observer.Actions;

/// <summary>
/// <c>parley observer config check</c>'s "unreachable SMTP settings" (OBSERVER.md): a file with email actions is
/// invalid while the configured SMTP server does not answer, reported at the first rule that sends mail.
/// </summary>
public static class SmtpReachability
{
    public static async Task<RulesLoadResult> CheckAsync(RulesLoadResult loaded, SmtpOptions smtp, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        var mailing = loaded.Rules?.Rules.FirstOrDefault(r => r.Actions.Any(a => a.Template is EmailTemplate));
        if (mailing is null) return loaded;
        // The check connects once, outside any breaker (a fresh, unused set).
        using var breakers = new EndpointBreakers(Options.Create(new BreakerOptions()), TimeProvider.System);
        var error = await new EmailRunner(Options.Create(smtp), breakers, NullLogger<EmailRunner>.Instance).CheckReachableAsync(ct).ConfigureAwait(false);
        if (error is null) return loaded;
        RuleProblem problem = new(mailing.Line, 1, RuleProblemSeverity.Error,
            $"rule '{mailing.Name}' sends email, but the SMTP server {smtp.Host}:{smtp.Port} ({SmtpOptions.Section}) is unreachable: {error}");
        return new RulesLoadResult(null, [.. loaded.Problems, problem]);
    }
}
