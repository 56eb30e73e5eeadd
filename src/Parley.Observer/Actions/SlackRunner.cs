using System.Text.Json;

namespace Parley.Observer.Actions;

/// <summary>An incoming-webhook style POST of <c>{"text": …}</c>, through the same pooled client and breakers as webhooks.</summary>
public sealed class SlackRunner(HttpActionSender http) : IActionRunner
{
    public bool CanRun(ActionSpec spec) => spec is SlackSpec;

    public Task<ActionResult> RunAsync(ActionWork work, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(work);
        var spec = (SlackSpec)work.Spec;
        return http.PostJsonAsync(spec.Url, JsonSerializer.SerializeToUtf8Bytes(new SlackMessage(spec.Text), SlackJson.Default.SlackMessage), spec.Timeout, null, ct);
    }
}

internal sealed record SlackMessage(string Text);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
[System.Text.Json.Serialization.JsonSerializable(typeof(SlackMessage))]
internal sealed partial class SlackJson : System.Text.Json.Serialization.JsonSerializerContext;
