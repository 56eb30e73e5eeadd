using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Parley.Server.Extensions;

namespace Parley.Server.Tests.Features;

[Trait("Category", "Smoke")]
public sealed class SettingsRegistryTests
{
    [Fact]
    public void Every_options_class_the_server_binds_is_in_the_settings_registry()
    {
        // parley config check walks ParleySettings.Sections: a class bound but missing there makes its documented keys "unknown".
        var builder = WebApplication.CreateSlimBuilder();
        builder.AddParley();
        var bound = builder.Services
            .Where(d => d.ServiceType.IsGenericType && d.ServiceType.GetGenericTypeDefinition() == typeof(IOptionsChangeTokenSource<>))
            .Select(d => d.ServiceType.GetGenericArguments()[0])
            .Where(t => t.Namespace?.StartsWith("Parley", StringComparison.Ordinal) == true)
            .Distinct()
            .ToList();

        Assert.Contains(typeof(Parley.Data.DataOptions), bound);
        Assert.DoesNotContain(bound, t => !ParleySettings.Sections.ContainsKey(t));
    }
}
