using Parley.Server.Http;

namespace Parley.Server.Tests.Http;

/// <summary>Kestrel's connection limits stay within the open-file limit, with the reserve left over.</summary>
[Trait("Category", "Smoke")]
public sealed class DescriptorBudgetTests
{
    [Fact]
    public void Connections_and_upgraded_connections_together_leave_the_reserve()
    {
        Assert.Equal((128L, 384L), DescriptorBudget.Split(1024));
        Assert.Equal(20_000 - DescriptorBudget.Reserve, DescriptorBudget.Split(20_000)!.Value.Connections + DescriptorBudget.Split(20_000)!.Value.Upgraded);
        Assert.Null(DescriptorBudget.Split(null));
        Assert.Equal((32L, 96L), DescriptorBudget.Split(DescriptorBudget.Reserve + DescriptorBudget.MinimumForClients));
        Assert.Null(DescriptorBudget.Split(DescriptorBudget.Reserve + DescriptorBudget.MinimumForClients - 1));
    }

    [Fact]
    public void The_limit_is_read_from_the_process()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.InRange(DescriptorBudget.OpenFileLimit() ?? long.MaxValue, 1, long.MaxValue);
    }
}
