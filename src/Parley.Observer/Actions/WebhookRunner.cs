using System.Globalization;

namespace Parley.Observer.Actions;

/// <summary>
/// Standard Webhooks delivery (OBSERVER.md, "Webhooks"): the event JSON with <c>webhook-id</c> (the same on every
/// attempt), <c>webhook-timestamp</c> (Unix seconds, at send time) and <c>webhook-signature</c>.
/// </summary>
public sealed class WebhookRunner(HttpActionSender http, TimeProvider time) : IActionRunner
{
    public bool CanRun(ActionSpec spec) => spec is WebhookSpec;

    public Task<ActionResult> RunAsync(ActionWork work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        var spec = (WebhookSpec)work.Spec;
        byte[] key;
        try
        {
            key = WebhookSignature.DecodeSecret(spec.Secret);
        }
        catch (FormatException e)
        {
            return Task.FromResult(new ActionResult(ActionOutcome.Failed, Error: $"bad webhook secret: {e.Message}"));
        }
        var body = work.Event.ToJsonBytes();
        return http.PostJsonAsync(spec.Url, body, spec.Timeout, headers =>
        {
            var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
            headers.Add("webhook-id", work.WebhookId);
            headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            headers.Add("webhook-signature", WebhookSignature.Sign(key, work.WebhookId, timestamp, body));
        }, ct);
    }
}
