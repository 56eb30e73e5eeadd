using System.Text.Json.Nodes;
using Parley.Observer.Actions;

namespace Parley.Observer.Queue;

/// <summary>An <see cref="ActionSpec"/> as the queue's <c>spec</c> column stores it: <c>{"kind", ...fields}</c>.</summary>
public static class ActionSpecJson
{
    private const string MessageIndexKind = "message-index";

    public static string Kind(ActionSpec spec) => spec switch
    {
        WebhookSpec => "webhook",
        EmailSpec => "email",
        SlackSpec => "slack",
        IndexSpec => "index",
        MessageIndexSpec => MessageIndexKind,
        _ => throw new ArgumentException($"Unknown action spec {spec.GetType().Name}.", nameof(spec)),
    };

    public static string Write(ActionSpec spec)
    {
        var json = new JsonObject { ["kind"] = Kind(spec) };
        switch (spec)
        {
            case WebhookSpec w:
                json["url"] = w.Url.OriginalString;
                json["secret"] = w.Secret;
                json["timeoutMs"] = (long)w.Timeout.TotalMilliseconds;
                break;
            case EmailSpec e:
                json["to"] = new JsonArray(e.To.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray());
                json["subject"] = e.Subject;
                json["body"] = e.Body;
                break;
            case SlackSpec s:
                json["url"] = s.Url.OriginalString;
                json["text"] = s.Text;
                json["timeoutMs"] = (long)s.Timeout.TotalMilliseconds;
                break;
            case IndexSpec i:
                json["name"] = i.Name;
                json["text"] = i.Text;
                break;
        }
        return json.ToJsonString();
    }

    public static ActionSpec Read(string text)
    {
        var json = JsonNode.Parse(text)!.AsObject();
        string S(string key) => json[key]!.GetValue<string>();
        TimeSpan Ms(string key) => TimeSpan.FromMilliseconds(json[key]!.GetValue<long>());
        return S("kind") switch
        {
            "webhook" => new WebhookSpec(new Uri(S("url")), S("secret"), Ms("timeoutMs")),
            "email" => new EmailSpec(json["to"]!.AsArray().Select(t => t!.GetValue<string>()).ToList(), S("subject"), S("body")),
            "slack" => new SlackSpec(new Uri(S("url")), S("text"), Ms("timeoutMs")),
            "index" => new IndexSpec(S("name"), S("text")),
            MessageIndexKind => MessageIndexSpec.Instance,
            var other => throw new FormatException($"Unknown action kind '{other}'."),
        };
    }
}
