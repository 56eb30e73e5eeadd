using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

/// <summary><c>parley reset</c>'s deletion of a stack's data, with nothing running.</summary>
[Trait("Category", "Smoke")]
public sealed class ResetDataTests
{
    [Fact]
    public async Task Two_resets_deleting_the_same_data_at_once_both_succeed_and_leave_nothing()
    {
        var root = Directory.CreateTempSubdirectory("parley-kit-reset-").FullName;
        try
        {
            for (var round = 0; round < 3; round++)
            {
                var data = Path.Combine(root, "data");
                for (var d = 0; d < 30; d++)
                {
                    var dir = Directory.CreateDirectory(Path.Combine(data, "primary", $"d{d}", "sub")).FullName;
                    for (var f = 0; f < 20; f++) await File.WriteAllTextAsync(Path.Combine(dir, $"f{f}"), "x");
                }
                using var start = new Barrier(4);
                var resets = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
                {
                    start.SignalAndWait(TimeSpan.FromSeconds(30));
                    return LocalStack.DeleteDurableData(root);
                })).ToArray();
                var deleted = await Task.WhenAll(resets);
                Assert.False(Directory.Exists(data));
                Assert.All(deleted, d => Assert.True(d is null || d == data, d));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
