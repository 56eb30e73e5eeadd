using System.Text.Json;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load;

/// <summary>
/// Sets runtime flags for one run through <c>PUT /v1/admin/flags/{name}</c> as an admin user, waits for them to reach
/// every node (they are re-read every second), and puts back what was there before when disposed.
/// </summary>
public sealed class RuntimeFlags : IAsyncDisposable
{
    private static readonly TimeSpan Propagation = TimeSpan.FromSeconds(1.5);
    private readonly ParleyApiClient _api;
    private readonly ApiUser? _admin;
    private readonly Dictionary<string, (bool Enabled, int Percentage)?> _previous = new(StringComparer.Ordinal);

    private RuntimeFlags(ParleyApiClient api, ApiUser? admin)
    {
        _api = api;
        _admin = admin;
    }

    public static async Task<RuntimeFlags> SetAsync(ParleyApiClient api, string adminHandle, IReadOnlyDictionary<string, bool> flags, IProgress<string>? log, CancellationToken ct)
    {
        if (flags.Count == 0) return new RuntimeFlags(api, null);
        var admin = await api.RegisterAndLoginAsync(adminHandle, ct).ConfigureAwait(false);
        var list = await api.GetAsync("v1/admin/flags", admin.Token, ct).ConfigureAwait(false);
        if (list.Status == 403)
            throw new LoadConfigurationException($"'{adminHandle}' is not an admin of this server: start it with `parley up --admin {adminHandle}` or run `parley admin grant {adminHandle}` to use --flag.");
        var current = list.EnsureSuccess("list flags").Json.GetProperty("items").EnumerateArray()
            .ToDictionary(f => f.GetProperty("name").GetString()!, f => (f.GetProperty("enabled").GetBoolean(), f.TryGetProperty("percentage", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetInt32() : 100));
        var result = new RuntimeFlags(api, admin);
        foreach (var (name, enabled) in flags)
        {
            result._previous[name] = current.TryGetValue(name, out var before) ? before : null;
            (await api.SetFlagAsync(admin, name, enabled, ct).ConfigureAwait(false)).EnsureSuccess($"set flag {name}");
            log?.Report($"flag {name} {(enabled ? "on" : "off")} for this run");
        }
        await Task.Delay(Propagation, ct).ConfigureAwait(false);
        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (_admin is null) return;
        foreach (var (name, before) in _previous)
        {
            try
            {
                await _api.SendAsync(HttpMethod.Put, $"v1/admin/flags/{name}", _admin.Token,
                    new { enabled = before?.Enabled ?? false, percentage = before?.Percentage ?? 100 }).ConfigureAwait(false);
            }
            catch (HttpRequestException)
            {
                // The server went away; nothing to restore.
            }
        }
    }
}
