using Parley.Observer.Actions;
using Parley.Observer.Rules;

namespace Parley.Observer.Tests.Rules;

[Trait("Category", "Smoke")]
public sealed class RulesFileTests
{
    internal const string Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // 24 bytes

    // OBSERVER.md's example, with a valid secret.
    internal static readonly string ContractExample = $$$"""
        rules:
          - name: big-orders                 # unique; [a-z0-9-]{1,64}
            source: table:public.orders      # or: parley
            on: [insert, update]
            when:
              all:
                - { field: data.total, op: gt, value: 100 }
                - { field: data.status, op: in, value: [new, paid] }
            actions:
              - name: notify-shop
                webhook: { url: "http://127.0.0.1:9000/hook", secret: "{{{Secret}}}", timeout: 5s }
                retry: [0s, 5s, 5m, 30m, 2h, 5h, 10h, 10h]
              - name: mail-ops
                email: { to: ["ops@example.com"], subject: "Order {{data.id}}", body: "Total {{data.total}}" }
              - name: chat-ops
                slack: { url: "http://127.0.0.1:9000/slack", text: "New order {{data.id}}" }
              - name: index-orders
                index: { name: orders, text: "{{data.note}}" }
        """;

    [Fact]
    public void The_contract_s_example_is_valid_and_reads_as_written()
    {
        var result = RulesFile.Parse(ContractExample, strict: true);

        Assert.True(result.IsValid, string.Join("\n", result.Problems.Select(p => p.Format("rules"))));
        Assert.Empty(result.Problems);
        var rule = Assert.Single(result.Rules!.Rules);
        Assert.Equal("big-orders", rule.Name);
        Assert.Equal(new TableSource("public", "orders"), rule.Source);
        Assert.Equal(["insert", "update"], rule.On.Order());
        Assert.Equal(["notify-shop", "mail-ops", "chat-ops", "index-orders"], rule.Actions.Select(a => a.Name));
        var hook = Assert.IsType<WebhookTemplate>(rule.Actions[0].Template);
        Assert.Equal(TimeSpan.FromSeconds(5), hook.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(5), rule.Actions[0].Timeout);
        Assert.Equal(RuleAction.DefaultRetry, rule.Actions[0].Retry);
        Assert.Equal(RuleAction.DefaultRetry, rule.Actions[1].Retry);
        Assert.Equal([("public", "orders")], result.Rules.Tables);
        Assert.False(result.Rules.ReadsParleyEvents);
    }

    [Fact]
    public void A_parley_rule_without_on_reacts_to_every_parley_event_type()
    {
        var result = RulesFile.Parse("""
            rules:
              - name: all-messages
                source: parley
                actions:
                  - name: idx
                    index: { name: messages, text: "{{data.message.body}}" }
                    retry: [0s, 1s]
                    timeout: 2s
            """);

        var rule = Assert.Single(result.Rules!.Rules);
        Assert.Equal(ParleySource.EventTypes.Order(), rule.On.Order());
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromSeconds(1)], rule.Actions[0].Retry);
        Assert.Equal(TimeSpan.FromSeconds(2), rule.Actions[0].Timeout);
        Assert.True(result.Rules.ReadsParleyEvents);
    }

    public static TheoryData<string, int, string> BadFiles => new()
    {
        { "rules:\n  - name: Big_Orders\n    source: parley\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 2, "must match [a-z0-9-]{1,64}" },
        { "rules:\n  - name: a\n    source: table:orders\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 3, "must be 'parley' or 'table:<schema>.<name>'" },
        { "rules:\n  - name: a\n    source: parley\n    on: [insert]\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 4, "'insert' is not an event of source 'parley'" },
        { "rules:\n  - name: a\n    source: table:public.t\n    on: [message.created]\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 4, "is not an event of source 'table:public.t'" },
        { "rules:\n  - name: a\n    source: parley\n    when: { field: data.x, op: like, value: 1 }\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 4, "op 'like' is not one of" },
        { "rules:\n  - name: a\n    source: parley\n    when: { field: body.x, op: eq, value: 1 }\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 4, "field 'body.x' must start with one of" },
        { "rules:\n  - name: a\n    source: parley\n    when:\n      any:\n        - { field: data.x, op: in, value: 3 }\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 6, "op 'in' needs a list" },
        { "rules:\n  - name: a\n    source: parley\n    when: { field: data.x, op: gt }\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 4, "op 'gt' needs a 'value'" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        webhook: { url: \"http://127.0.0.1:1/h\", secret: \"whsec_c2hvcnQ=\" }\n", 6, "decodes to 5 bytes; 24 to 64 are needed" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        webhook: { url: \"http://127.0.0.1:1/h\", secret: \"sk_abc\" }\n", 6, "must start with 'whsec_'" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        webhook: { url: \"ftp://x/h\", secret: \"" + Secret + "\" }\n", 6, "must be an absolute http:// or https:// URL" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        index: { name: x, text: t }\n        retry: [0s, 5 seconds]\n", 7, "'5 seconds' is not a duration" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        slack: { url: \"http://127.0.0.1:1/s\", text: hi, timeout: soon }\n", 6, "'soon' is not a duration" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        slack: { url: \"http://127.0.0.1:1/s\", text: \"{{ nope.x }}\" }\n", 6, "template placeholder {{ nope.x }}" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        email: { to: [not-an-address], subject: s, body: b }\n", 6, "'not-an-address' is not an email address" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        index: { name: x, text: t }\n        slack: { url: \"http://127.0.0.1:1/s\", text: hi }\n", 5, "exactly one of webhook, email, slack, index (found slack, index)" },
        { "rules:\n  - name: a\n    source: parley\n    actions:\n      - name: a\n        index: { name: x, text: t }\n      - name: a\n        index: { name: y, text: t }\n", 7, "duplicate action name 'a' (first at line 5)" },
        { "rules:\n  - name: a\n    source: parley\n    actions: [{ name: a, index: { name: x, text: t } }]\n  - name: a\n    source: parley\n    actions: [{ name: b, index: { name: x, text: t } }]\n", 5, "duplicate rule name 'a' (first at line 2)" },
        { "rules:\n  - name: parley-search\n    source: parley\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 2, "rule name 'parley-search' is the built-in message search's" },
        { "rules:\n  - name: a\n    actions: [{ name: a, index: { name: x, text: t } }]\n", 2, "rule 'a' needs 'source'" },
        { "rules:\n  - name: a\n    source: parley\n    actions: [{ name: a, index: { name: x, text: t }\n", 5, "not valid YAML" },
        { "", 1, "the file is empty" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_file_is_invalid_with_the_problem_on_its_line(string yaml, int line, string message)
    {
        var result = RulesFile.Parse(yaml);

        Assert.False(result.IsValid);
        Assert.Null(result.Rules);
        Assert.Contains(result.Problems, p => p.IsError && p.Line == line && p.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_key_is_a_warning_and_in_strict_mode_an_error_on_its_line()
    {
        const string yaml = "rules:\n  - name: a\n    source: parley\n    colour: blue\n    actions: [{ name: a, index: { name: x, text: t } }]\n";

        var lenient = RulesFile.Parse(yaml);
        var strict = RulesFile.Parse(yaml, strict: true);

        Assert.True(lenient.IsValid);
        var warning = Assert.Single(lenient.Problems);
        Assert.Equal((4, RuleProblemSeverity.Warning), (warning.Line, warning.Severity));
        Assert.Contains("unknown key 'colour'", warning.Message);
        Assert.False(strict.IsValid);
        Assert.Equal((4, RuleProblemSeverity.Error), (strict.Problems[0].Line, strict.Problems[0].Severity));
    }

    [Fact]
    public void Every_problem_of_a_file_is_reported_not_only_the_first()
    {
        var result = RulesFile.Parse("rules:\n  - name: A\n    source: nowhere\n    actions: [{ name: a, index: { name: x, text: t } }]\n");

        Assert.Equal([2, 3], result.Problems.Select(p => p.Line));
    }

    [Fact]
    public void A_file_that_does_not_exist_is_one_problem_at_line_0()
    {
        var result = RulesFile.Load(Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.yaml"));

        Assert.Equal(0, Assert.Single(result.Problems).Line);
        Assert.False(result.IsValid);
    }

    [Fact]
    public void Rendering_fills_templates_into_the_action_records()
    {
        var rule = RulesFile.Parse(ContractExample).Rules!.Rules[0];
        var e = Events.Table("insert", new() { ["id"] = 42, ["total"] = 150.5, ["status"] = "new", ["note"] = "rush" });

        Assert.Equal(new WebhookSpec(new Uri("http://127.0.0.1:9000/hook"), Secret, TimeSpan.FromSeconds(5)), rule.Actions[0].Render(e));
        var mail = Assert.IsType<EmailSpec>(rule.Actions[1].Render(e));
        Assert.Equal(["ops@example.com"], mail.To);
        Assert.Equal(("Order 42", "Total 150.5"), (mail.Subject, mail.Body));
        Assert.Equal("New order 42", Assert.IsType<SlackSpec>(rule.Actions[2].Render(e)).Text);
        Assert.Equal(new IndexSpec("orders", "rush"), rule.Actions[3].Render(e));
    }
}
