using System.Text.Json.Nodes;
using Parley.Observer.Events;
using Parley.Observer.Rules;

namespace Parley.Observer.Tests.Rules;

/// <summary>Events for rule tests.</summary>
internal static class Events
{
    public static ObserverEvent Table(string type, JsonObject data, JsonObject? old = null) =>
        new("0000000001000000-0", "table:public.orders", type, DateTimeOffset.UnixEpoch, data, old);
}

[Trait("Category", "Smoke")]
public sealed class ConditionTests
{
    private static readonly ObserverEvent Order = Events.Table("update",
        new JsonObject
        {
            ["id"] = 7, ["total"] = JsonNode.Parse("150.00"), ["status"] = "paid", ["note"] = "call before delivery",
            ["tags"] = new JsonArray("vip", "eu"), ["code"] = "0042", ["gift"] = null,
        },
        new JsonObject { ["status"] = "new" });

    private static bool When(string condition) =>
        RulesFile.Parse($"rules:\n  - name: r\n    source: table:public.orders\n    when: {condition}\n    actions: [{{ name: a, index: {{ name: x, text: t }} }}]\n")
            .Rules!.Rules[0].Matches(Order);

    [Theory]
    [InlineData("{ field: data.total, op: eq, value: 150 }", true)]
    [InlineData("{ field: data.total, op: eq, value: '150' }", true)]
    [InlineData("{ field: data.total, op: ne, value: 150 }", false)]
    [InlineData("{ field: data.total, op: gt, value: 100 }", true)]
    [InlineData("{ field: data.total, op: gt, value: 150 }", false)]
    [InlineData("{ field: data.total, op: ge, value: 150 }", true)]
    [InlineData("{ field: data.total, op: lt, value: 150.01 }", true)]
    [InlineData("{ field: data.total, op: le, value: 149.99 }", false)]
    [InlineData("{ field: data.status, op: eq, value: paid }", true)]
    [InlineData("{ field: data.status, op: ne, value: paid }", false)]
    [InlineData("{ field: data.status, op: in, value: [new, paid] }", true)]
    [InlineData("{ field: data.status, op: in, value: [new, shipped] }", false)]
    [InlineData("{ field: data.status, op: gt, value: o }", true)]
    [InlineData("{ field: data.note, op: contains, value: before }", true)]
    [InlineData("{ field: data.note, op: contains, value: after }", false)]
    [InlineData("{ field: data.tags, op: contains, value: vip }", true)]
    [InlineData("{ field: data.tags, op: contains, value: us }", false)]
    [InlineData("{ field: data.tags.1, op: eq, value: eu }", true)]
    [InlineData("{ field: data.code, op: eq, value: '0042' }", true)]
    [InlineData("{ field: data.note, op: exists }", true)]
    [InlineData("{ field: data.gift, op: exists }", false)]
    [InlineData("{ field: data.missing, op: exists, value: false }", true)]
    [InlineData("{ field: data.missing, op: eq, value: null }", true)]
    [InlineData("{ field: data.missing, op: gt, value: 1 }", false)]
    [InlineData("{ field: data.missing, op: ne, value: 1 }", true)]
    [InlineData("{ field: old.status, op: eq, value: new }", true)]
    [InlineData("{ field: type, op: eq, value: update }", true)]
    [InlineData("{ field: source, op: eq, value: 'table:public.orders' }", true)]
    public void A_field_condition_compares_as_documented(string condition, bool expected) =>
        Assert.Equal(expected, When(condition));

    [Theory]
    [InlineData("{ all: [{ field: data.total, op: gt, value: 100 }, { field: data.status, op: eq, value: paid }] }", true)]
    [InlineData("{ all: [{ field: data.total, op: gt, value: 100 }, { field: data.status, op: eq, value: new }] }", false)]
    [InlineData("{ any: [{ field: data.total, op: gt, value: 1000 }, { field: data.status, op: eq, value: paid }] }", true)]
    [InlineData("{ any: [{ field: data.total, op: gt, value: 1000 }, { field: data.status, op: eq, value: new }] }", false)]
    [InlineData("{ all: [{ any: [{ field: data.id, op: eq, value: 1 }, { field: data.id, op: eq, value: 7 }] }, { field: data.note, op: exists }] }", true)]
    [InlineData("{ any: [{ all: [{ field: data.id, op: eq, value: 7 }, { field: data.gift, op: exists }] }, { field: data.id, op: eq, value: 8 }] }", false)]
    public void All_and_any_nest(string condition, bool expected) =>
        Assert.Equal(expected, When(condition));

    [Fact]
    public void A_rule_matches_only_its_source_and_event_types()
    {
        var rule = RulesFile.Parse("rules:\n  - name: r\n    source: table:public.orders\n    on: [insert]\n    actions: [{ name: a, index: { name: x, text: t } }]\n").Rules!.Rules[0];

        Assert.True(rule.Matches(Events.Table("insert", [])));
        Assert.False(rule.Matches(Events.Table("update", [])));
        Assert.False(rule.Matches(Events.Table("insert", []) with { Source = "table:public.other" }));
    }
}

[Trait("Category", "Smoke")]
public sealed class TemplateTests
{
    [Fact]
    public void Placeholders_render_strings_as_they_are_other_values_as_json_and_absent_ones_as_nothing()
    {
        var problems = new List<string>();
        var template = Template.Parse("{{data.s}}|{{ data.n }}|{{data.o}}|{{data.missing}}|{{type}}|{{ id }}", problems.Add);
        var e = Events.Table("insert", new JsonObject { ["s"] = "a \"b\"", ["n"] = 1.5, ["o"] = new JsonObject { ["k"] = true } });

        Assert.Empty(problems);
        Assert.Equal("a \"b\"|1.5|{\"k\":true}||insert|0000000001000000-0", template.Render(e));
    }

    [Fact]
    public void A_text_without_placeholders_renders_as_itself() =>
        Assert.Equal("plain {text}", Template.Parse("plain {text}", _ => { }).Render(Events.Table("insert", [])));

    [Fact]
    public void A_bad_placeholder_is_reported() =>
        Assert.Single(Collect("hello {{data.}} {{data.ok}}"));

    private static List<string> Collect(string text)
    {
        var problems = new List<string>();
        Template.Parse(text, problems.Add);
        return problems;
    }
}
