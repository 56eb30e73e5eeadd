using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Scenarios;

/// <summary>Sustained logins (POST /v1/auth/login) over 50 users: each costs one PBKDF2-SHA512 hash, so p95 is bounded by the hash cost.</summary>
public sealed class LoginScenario : ILoadScenario
{
    private const int Users = 50;
    private Fixture? _fixture;

    public string Name => "login";

    public string Description => "POST /v1/auth/login at a steady rate; success must stay above 99.9%";

    public ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 200, 64, TimeSpan.FromMinutes(1), ["errors<0.1%", "p95<250ms"],
        SeedTarget: "200 logins/s, success > 99.9%, token p95 < 50 ms",
        SloTarget: "the same rate with p95 bounded by the password hash cost, documented");

    public async Task SetupAsync(LoadContext context, CancellationToken ct) =>
        _fixture = await Fixture.UsersAsync(context, Users, ct).ConfigureAwait(false);

    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        var user = _fixture!.Users[(int)(iteration % Users)];
        var login = await api.PostAsync("v1/auth/login", null, new { handle = user.Handle, password = ParleyApiClient.Password }, ct).ConfigureAwait(false);
        if (login.Status == 200 && login.Json.GetProperty("accessToken").GetString() is not { Length: > 0 })
            return Outcome.Failed("login", 200, "no token");
        return Outcome.Classify("login", login.Status, [200]);
    }

    public Task VerifyAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;
}
