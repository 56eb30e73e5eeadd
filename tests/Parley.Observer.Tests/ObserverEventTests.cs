using System.Text;
using System.Text.Json.Nodes;
using Parley.Observer.Events;

namespace Parley.Observer.Tests;

[Trait("Category", "Smoke")]
public sealed class ObserverEventTests
{
    [Fact]
    public void An_event_serialises_with_the_contract_s_field_names_and_leaves_old_out_when_absent()
    {
        var e = new ObserverEvent("e1", "table:public.orders", "insert", DateTimeOffset.UnixEpoch, new JsonObject { ["id"] = 7 });

        var json = JsonNode.Parse(Encoding.UTF8.GetString(e.ToJsonBytes()))!.AsObject();

        Assert.Equal(["id", "source", "type", "occurredAt", "data"], json.Select(p => p.Key));
        Assert.Equal(7, (int)json["data"]!["id"]!);
    }

    [Fact]
    public void An_event_read_back_from_its_json_keeps_the_old_row()
    {
        var e = new ObserverEvent("e2", "table:public.orders", "update", DateTimeOffset.UnixEpoch, new JsonObject { ["total"] = 2 }, new JsonObject { ["total"] = 1 });

        var back = ObserverEvent.FromJson(e.ToJsonBytes());

        Assert.Equal(1, (int)back.Old!["total"]!);
        Assert.Equal("update", back.Type);
    }
}
