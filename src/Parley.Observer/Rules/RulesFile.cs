using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Parley.Observer.Actions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Parley.Observer.Rules;

/// <summary>
/// Reads and validates a rules file (OBSERVER.md, "Rules file"). Every problem is reported with its
/// line and column; unknown keys are warnings, or errors in strict mode. <c>parley observer config
/// check</c> prints the problems; <c>parley observer run</c> refuses to start when there is an error.
/// </summary>
public static partial class RulesFile
{
    /// <summary>Reads <paramref name="path"/>; a file that cannot be read is one problem at line 0.</summary>
    public static RulesLoadResult Load(string path, bool strict = false)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new(null, [new RuleProblem(0, 0, RuleProblemSeverity.Error, $"cannot read {path}: {e.Message}")]);
        }
        return Parse(text, strict);
    }

    public static RulesLoadResult Parse(string yaml, bool strict = false) => new Parser(strict).Run(yaml);

    [GeneratedRegex("^[a-z0-9-]{1,64}$")]
    internal static partial Regex NamePattern();

    [GeneratedRegex("^table:(?<schema>[a-z_][a-z0-9_]{0,62})\\.(?<table>[a-z_][a-z0-9_]{0,62})$")]
    private static partial Regex TableSourcePattern();

    [GeneratedRegex("^[a-z0-9_-]{1,64}$")]
    private static partial Regex IndexNamePattern();

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex NumberPattern();

    private const int MaxConditionDepth = 16;

    private static readonly Dictionary<string, ConditionOp> Ops =
        Enum.GetValues<ConditionOp>().ToDictionary(o => o.ToString().ToLowerInvariant(), StringComparer.Ordinal);

    private const int MaxRetryEntries = 50;

    private static readonly TimeSpan DefaultHttpTimeout = TimeSpan.FromSeconds(10);

    private sealed class Parser(bool strict)
    {
        private readonly List<RuleProblem> _problems = [];

        public RulesLoadResult Run(string yaml)
        {
            var stream = new YamlStream();
            try
            {
                stream.Load(new StringReader(yaml));
            }
            catch (YamlException e)
            {
                var message = e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message;
                _problems.Add(new RuleProblem((int)e.Start.Line, (int)e.Start.Column, RuleProblemSeverity.Error, $"not valid YAML: {message}"));
                return new(null, _problems);
            }
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            {
                _problems.Add(new RuleProblem(1, 1, RuleProblemSeverity.Error, "the file is empty; it needs a top-level 'rules:' list"));
                return new(null, _problems);
            }
            if (stream.Documents.Count > 1)
                Error(stream.Documents[1].RootNode, "only one YAML document is allowed");
            var rules = ReadFile(stream.Documents[0].RootNode);
            return new(_problems.Any(p => p.IsError) ? null : new RuleSet(rules), _problems);
        }

        private List<Rule> ReadFile(YamlNode root)
        {
            var rules = new List<Rule>();
            if (Mapping(root, "the file") is not { } top) return rules;
            Keys(top, "the file", "rules");
            if (Required(top, "rules", "the file") is not { } list) return rules;
            if (list is not YamlSequenceNode sequence || sequence.Children.Count == 0)
            {
                Error(list, "'rules' must be a non-empty list of rules");
                return rules;
            }
            var names = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var node in sequence)
            {
                if (ReadRule(node) is not { } rule) continue;
                if (rule.Name == MessageIndexSpec.Rule)
                    Error(node, $"rule name '{rule.Name}' is the built-in message search's");
                else if (names.TryGetValue(rule.Name, out var first))
                    Error(node, $"duplicate rule name '{rule.Name}' (first at line {first})");
                else
                    names[rule.Name] = rule.Line;
                rules.Add(rule);
            }
            return rules;
        }

        private Rule? ReadRule(YamlNode node)
        {
            if (Mapping(node, "a rule") is not { } m) return null;
            Keys(m, "a rule", "name", "source", "on", "when", "actions");
            var name = Name(m, "rule");
            var where = name is null ? "rule" : $"rule '{name}'";
            var source = ReadSource(m, where);
            var on = ReadOn(m, source, where);
            Condition? when = m.Children.TryGetValue(new YamlScalarNode("when"), out var w) ? ReadCondition(w, 1) : null;
            var actions = ReadActions(m, where);
            if (name is null || source is null || on is null || actions is null) return null;
            return new Rule(name, source, on, when, actions, (int)node.Start.Line);
        }

        private RuleSource? ReadSource(YamlMappingNode m, string where)
        {
            if (Required(m, "source", where) is not { } node || Scalar(node, "'source'") is not { } text) return null;
            if (text == "parley") return new ParleySource();
            var t = TableSourcePattern().Match(text);
            if (t.Success) return new TableSource(t.Groups["schema"].Value, t.Groups["table"].Value);
            Error(node, $"source '{text}' must be 'parley' or 'table:<schema>.<name>' (lower-case identifiers)");
            return null;
        }

        private HashSet<string>? ReadOn(YamlMappingNode m, RuleSource? source, string where)
        {
            var allowed = source switch
            {
                ParleySource => ParleySource.EventTypes,
                TableSource => TableSource.EventTypes,
                _ => null,
            };
            if (!m.Children.TryGetValue(new YamlScalarNode("on"), out var node))
                return allowed is null ? null : [.. allowed];
            var values = node switch
            {
                YamlSequenceNode s => s.Children,
                YamlScalarNode => [node],
                _ => null,
            };
            if (values is null || values.Count == 0)
            {
                Error(node, $"{where}: 'on' must be an event type or a non-empty list of them");
                return null;
            }
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var value in values)
            {
                if (Scalar(value, "an 'on' entry") is not { } type) continue;
                if (allowed is not null && !allowed.Contains(type))
                    Error(value, $"{where}: '{type}' is not an event of source '{source!.Name}' (one of: {string.Join(", ", allowed)})");
                else set.Add(type);
            }
            return allowed is null ? null : set;
        }

        private Condition? ReadCondition(YamlNode node, int depth)
        {
            if (depth > MaxConditionDepth)
            {
                Error(node, $"conditions nest deeper than {MaxConditionDepth} levels");
                return null;
            }
            if (Mapping(node, "a condition") is not { } m) return null;
            var group = new[] { "all", "any" }.Where(k => m.Children.ContainsKey(new YamlScalarNode(k))).ToList();
            if (group.Count > 0)
            {
                if (group.Count > 1 || m.Children.Count > 1)
                {
                    Error(node, "a condition group has exactly one key, 'all' or 'any'");
                    return null;
                }
                var list = m.Children[new YamlScalarNode(group[0])];
                if (list is not YamlSequenceNode s || s.Children.Count == 0)
                {
                    Error(list, $"'{group[0]}' must be a non-empty list of conditions");
                    return null;
                }
                var children = s.Children.Select(c => ReadCondition(c, depth + 1)).ToList();
                if (children.Any(c => c is null)) return null;
                return group[0] == "all" ? new AllCondition(children!) : new AnyCondition(children!);
            }
            Keys(m, "a condition", "field", "op", "value");
            FieldPath? field = null;
            if (Required(m, "field", "a condition") is { } f && Scalar(f, "'field'") is { } text)
            {
                field = FieldPath.TryParse(text, out var problem);
                if (field is null) Error(f, problem);
            }
            ConditionOp? op = null;
            if (Required(m, "op", "a condition") is { } o && Scalar(o, "'op'") is { } opText)
            {
                if (Ops.TryGetValue(opText, out var parsed))
                    op = parsed;
                else
                    Error(o, $"op '{opText}' is not one of: eq, ne, gt, ge, lt, le, in, contains, exists");
            }
            m.Children.TryGetValue(new YamlScalarNode("value"), out var valueNode);
            if (op is null || field is null) return null;
            if (valueNode is null && op != ConditionOp.Exists)
            {
                Error(node, $"op '{op.Value.ToString().ToLowerInvariant()}' needs a 'value'");
                return null;
            }
            var value = valueNode is null ? null : ToJson(valueNode);
            switch (op)
            {
                case ConditionOp.In when valueNode is not YamlSequenceNode:
                    Error(valueNode!, "op 'in' needs a list as its value, e.g. [new, paid]");
                    return null;
                case ConditionOp.Gt or ConditionOp.Ge or ConditionOp.Lt or ConditionOp.Le or ConditionOp.Contains when valueNode is not YamlScalarNode:
                    Error(valueNode!, $"op '{op.Value.ToString().ToLowerInvariant()}' needs a single value (a number or a text)");
                    return null;
                case ConditionOp.Exists when valueNode is not null && value?.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False):
                    Error(valueNode, "op 'exists' takes true or false as its value (or none: true)");
                    return null;
            }
            return new FieldCondition(field, op.Value, value);
        }

        private List<RuleAction>? ReadActions(YamlMappingNode m, string where)
        {
            if (Required(m, "actions", where) is not { } node) return null;
            if (node is not YamlSequenceNode s || s.Children.Count == 0)
            {
                Error(node, $"{where}: 'actions' must be a non-empty list");
                return null;
            }
            var actions = new List<RuleAction>();
            var names = new Dictionary<string, int>(StringComparer.Ordinal);
            var ok = true;
            foreach (var a in s.Children)
            {
                var action = ReadAction(a, where);
                if (action is null)
                {
                    ok = false;
                    continue;
                }
                if (names.TryGetValue(action.Name, out var first))
                {
                    Error(a, $"{where}: duplicate action name '{action.Name}' (first at line {first})");
                    ok = false;
                }
                else names[action.Name] = (int)a.Start.Line;
                actions.Add(action);
            }
            return ok ? actions : null;
        }

        private static readonly string[] Kinds = ["webhook", "email", "slack", "index"];

        private RuleAction? ReadAction(YamlNode node, string where)
        {
            if (Mapping(node, "an action") is not { } m) return null;
            Keys(m, "an action", "name", "webhook", "email", "slack", "index", "retry", "timeout");
            var name = Name(m, "action");
            var kinds = Kinds.Where(k => m.Children.ContainsKey(new YamlScalarNode(k))).ToList();
            if (kinds.Count != 1)
            {
                Error(node, $"{where}: an action has exactly one of webhook, email, slack, index (found {(kinds.Count == 0 ? "none" : string.Join(", ", kinds))})");
                return null;
            }
            var body = m.Children[new YamlScalarNode(kinds[0])];
            ActionTemplate? template = kinds[0] switch
            {
                "webhook" => ReadWebhook(body),
                "email" => ReadEmail(body),
                "slack" => ReadSlack(body),
                _ => ReadIndex(body),
            };
            var retry = RuleAction.DefaultRetry;
            if (m.Children.TryGetValue(new YamlScalarNode("retry"), out var r))
                retry = ReadRetry(r) ?? retry;
            TimeSpan? timeout = m.Children.TryGetValue(new YamlScalarNode("timeout"), out var t) ? Duration(t, "'timeout'") : null;
            if (name is null || template is null) return null;
            var effective = timeout ?? template switch
            {
                WebhookTemplate h => h.Timeout,
                SlackTemplate sl => sl.Timeout,
                _ => ObserverOptions.DefaultActionTimeout,
            };
            return new RuleAction(name, template, retry, effective);
        }

        private List<TimeSpan>? ReadRetry(YamlNode node)
        {
            if (node is not YamlSequenceNode s || s.Children.Count == 0 || s.Children.Count > MaxRetryEntries)
            {
                Error(node, $"'retry' must be a list of 1 to {MaxRetryEntries} durations, e.g. [0s, 5s, 5m]");
                return null;
            }
            var list = s.Children.Select(c => Duration(c, "a retry delay")).ToList();
            return list.Any(d => d is null) ? null : list.Select(d => d!.Value).ToList();
        }

        private WebhookTemplate? ReadWebhook(YamlNode node)
        {
            if (Mapping(node, "'webhook'") is not { } m) return null;
            Keys(m, "'webhook'", "url", "secret", "timeout");
            var url = Url(m, "webhook");
            string? secret = null;
            if (Required(m, "secret", "'webhook'") is { } s && Scalar(s, "'secret'") is { } text)
            {
                if (WebhookSecret.IsValid(text, out var problem)) secret = text;
                else Error(s, $"webhook secret {problem}");
            }
            var timeout = HttpTimeout(m);
            return url is null || secret is null || timeout is null ? null : new WebhookTemplate(url, secret, timeout.Value);
        }

        private SlackTemplate? ReadSlack(YamlNode node)
        {
            if (Mapping(node, "'slack'") is not { } m) return null;
            Keys(m, "'slack'", "url", "text", "timeout");
            var url = Url(m, "slack");
            var text = TemplateOf(m, "text", "'slack'");
            var timeout = HttpTimeout(m);
            return url is null || text is null || timeout is null ? null : new SlackTemplate(url, text, timeout.Value);
        }

        private EmailTemplate? ReadEmail(YamlNode node)
        {
            if (Mapping(node, "'email'") is not { } m) return null;
            Keys(m, "'email'", "to", "subject", "body");
            List<Template>? to = null;
            if (Required(m, "to", "'email'") is { } t)
            {
                var entries = t switch
                {
                    YamlSequenceNode s when s.Children.Count > 0 => s.Children,
                    YamlScalarNode => [t],
                    _ => null,
                };
                if (entries is null) Error(t, "'to' must be an address or a non-empty list of addresses");
                else
                {
                    to = [];
                    foreach (var entry in entries)
                    {
                        if (Scalar(entry, "an address") is not { } address) continue;
                        if (!address.Contains("{{", StringComparison.Ordinal) && !System.Net.Mail.MailAddress.TryCreate(address, out _))
                            Error(entry, $"'{address}' is not an email address");
                        else if (TemplateFrom(entry, address) is { } tpl) to.Add(tpl);
                    }
                }
            }
            var subject = TemplateOf(m, "subject", "'email'");
            var body = TemplateOf(m, "body", "'email'");
            return to is null || subject is null || body is null ? null : new EmailTemplate(to, subject, body);
        }

        private IndexTemplate? ReadIndex(YamlNode node)
        {
            if (Mapping(node, "'index'") is not { } m) return null;
            Keys(m, "'index'", "name", "text");
            string? name = null;
            if (Required(m, "name", "'index'") is { } n && Scalar(n, "'name'") is { } text)
            {
                if (IndexNamePattern().IsMatch(text)) name = text;
                else Error(n, $"index name '{text}' must match [a-z0-9_-]{{1,64}}");
            }
            var body = TemplateOf(m, "text", "'index'");
            return name is null || body is null ? null : new IndexTemplate(name, body);
        }

        private Uri? Url(YamlMappingNode m, string what)
        {
            if (Required(m, "url", $"'{what}'") is not { } node || Scalar(node, "'url'") is not { } text) return null;
            if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https") return url;
            Error(node, $"{what} url '{text}' must be an absolute http:// or https:// URL");
            return null;
        }

        private TimeSpan? HttpTimeout(YamlMappingNode m) =>
            m.Children.TryGetValue(new YamlScalarNode("timeout"), out var t) ? Duration(t, "'timeout'") : DefaultHttpTimeout;

        private TimeSpan? Duration(YamlNode node, string what)
        {
            if (Scalar(node, what) is not { } text) return null;
            if (Durations.TryParse(text, out var value)) return value;
            Error(node, $"{what} '{text}' is not a duration (a whole number and ms, s, m, h or d, e.g. 5s)");
            return null;
        }

        private Template? TemplateOf(YamlMappingNode m, string key, string where) =>
            Required(m, key, where) is { } node && Scalar(node, $"'{key}'", allowEmpty: true) is { } text ? TemplateFrom(node, text) : null;

        private Template? TemplateFrom(YamlNode node, string text)
        {
            var before = _problems.Count;
            var template = Template.Parse(text, problem => Error(node, problem));
            return _problems.Count == before ? template : null;
        }

        private string? Name(YamlMappingNode m, string what)
        {
            if (Required(m, "name", $"a {what}") is not { } node || Scalar(node, "'name'") is not { } text) return null;
            if (NamePattern().IsMatch(text)) return text;
            Error(node, $"{what} name '{text}' must match [a-z0-9-]{{1,64}}");
            return null;
        }

        private YamlMappingNode? Mapping(YamlNode node, string what)
        {
            if (node is YamlMappingNode m) return m;
            Error(node, $"{what} must be a mapping (key: value)");
            return null;
        }

        private string? Scalar(YamlNode node, string what, bool allowEmpty = false)
        {
            if (node is YamlScalarNode { Value: { } value } && (allowEmpty || value.Length > 0)) return value;
            Error(node, $"{what} must be {(allowEmpty ? "a text" : "a non-empty value")}");
            return null;
        }

        private YamlNode? Required(YamlMappingNode m, string key, string where)
        {
            if (m.Children.TryGetValue(new YamlScalarNode(key), out var node)) return node;
            Error(m, $"{where} needs '{key}'");
            return null;
        }

        private void Keys(YamlMappingNode m, string where, params string[] allowed)
        {
            foreach (var key in m.Children.Keys)
            {
                if (key is YamlScalarNode { Value: { } k } && allowed.Contains(k, StringComparer.Ordinal)) continue;
                var text = (key as YamlScalarNode)?.Value ?? key.ToString();
                var message = $"unknown key '{text}' in {where} (known: {string.Join(", ", allowed)})";
                _problems.Add(new RuleProblem((int)key.Start.Line, (int)key.Start.Column,
                    strict ? RuleProblemSeverity.Error : RuleProblemSeverity.Warning, message));
            }
        }

        private void Error(YamlNode node, string message) =>
            _problems.Add(new RuleProblem((int)node.Start.Line, (int)node.Start.Column, RuleProblemSeverity.Error, message));

        private static JsonNode? ToJson(YamlNode node) => node switch
        {
            YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
            YamlMappingNode m => new JsonObject(m.Children.Select(p => KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", ToJson(p.Value)))),
            YamlScalarNode { Style: ScalarStyle.Plain, Value: var v } => v switch
            {
                null or "" or "~" or "null" => null,
                "true" => JsonValue.Create(true),
                "false" => JsonValue.Create(false),
                _ when NumberPattern().IsMatch(v) => JsonNode.Parse(v),
                _ => JsonValue.Create(v),
            },
            YamlScalarNode sc => JsonValue.Create(sc.Value ?? ""),
            _ => null,
        };
    }
}

/// <summary>A Standard Webhooks secret: <c>whsec_</c> and the base64 of 24 to 64 random bytes.</summary>
public static class WebhookSecret
{
    public const string Prefix = "whsec_";

    public static bool IsValid(string secret, out string problem)
    {
        if (!secret.StartsWith(Prefix, StringComparison.Ordinal))
        {
            problem = $"must start with '{Prefix}'";
            return false;
        }
        var buffer = new byte[secret.Length];
        if (!Convert.TryFromBase64String(secret[Prefix.Length..], buffer, out var length))
        {
            problem = $"after '{Prefix}' must be base64";
            return false;
        }
        if (length is < 24 or > 64)
        {
            problem = $"decodes to {length.ToString(CultureInfo.InvariantCulture)} bytes; 24 to 64 are needed";
            return false;
        }
        problem = "";
        return true;
    }
}
